"""`renderer diff`: what a publish would change, per environment × app, and nothing committed."""

from __future__ import annotations

import json
import os
import sys

import click

from renderer import pipeline
from renderer.adapters import gitlab, gitrepo, idtoken
from renderer.checks.secrets import sensitive_values
from renderer.cli.base import handled, images, repo_url, report_options, root_option, seconds, write_file
from renderer.errors import UsageError
from renderer.inputs import app_repo, platform_config, roots
from renderer.model import App, Trust
from renderer.publish import delivery, preview_urls
from renderer.publish import preview as preview_diff
from renderer.publish.identity import Identity, app_name, check_checkout, from_token
from renderer.review import diffmarkdown, treediff
from renderer.review.treediff import TreeDiff

EXIT_CHANGES = 1  # only `diff --exit-code`: there are changes
MARKER = "<!-- platform-renderer:diff -->"  # hidden: finds this command's sticky note on the MR
HEADER = "### Rendered diff\n\nWhat publishing this would change in the environment repo."


@click.command("diff")
@click.option("--env-repo", "url", required=True, help="Environment repo: path or git URL.")
@click.option(
    "--app",
    "apps",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="App directory of Score files (repeatable); its id is the directory name.",
)
@click.option("--all-apps", is_flag=True, help="Every app stored in the env repo (a platform-wide render).")
@click.option("--env", "envs", multiple=True, help="Environment id (repeatable); default: all.")
@click.option("--image", "image_pairs", multiple=True, help="WORKLOAD[.CONTAINER]=IMAGE for image '.'.")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 1 when there are changes, 0 when none.")
@report_options
@click.option(
    "--id-token-var",
    "token_var",
    default=None,
    help="Name the one app as publish would: after the project a GitLab ID token in this variable proves.",
)
@click.option("--app-id", "app_id", default=None, help="Name the one app as publish would for this owner.")
@click.option("--preview", "preview", type=int, default=None, help="Name the URL of the app's preview of MR.")
@root_option
@handled
def command(
    url: str,
    apps: tuple[str, ...],
    all_apps: bool,
    envs: tuple[str, ...],
    image_pairs: tuple[str, ...],
    fmt: str,
    exit_code: bool,
    output: str | None,
    artifact: str | None,
    limit: int | None,
    post_note: bool,
    token_var: str | None,
    app_id: str | None,
    preview: int | None,
    root: str | None,
) -> None:
    """Compare a fresh render with what the environment repo holds (or, for a protected
    environment, with its open MR branch). Exit 0, or with --exit-code 1 when anything changes."""
    if not apps and not all_apps:
        raise UsageError("nothing to compare: give --app DIR or --all-apps")
    target = gitlab.note_target_from(os.environ) if post_note else None  # before the work: fail fast
    gitrepo.check_url(url)
    diff, seen = treediff_of(url, apps, all_apps, envs, image_pairs, root, (token_var, app_id), preview)
    if artifact:
        write_file(artifact, treediff.text(diff))
    note = _markdown(diff, limit, artifact, seen)
    report = {
        "text": lambda: (seen.text() if seen else "") + treediff.text(diff),
        "json": lambda: _json(diff, seen),
        "markdown": lambda: note,
    }[fmt]()
    if output:
        write_file(output, report)
    else:
        click.echo(report, nl=False)
    if target is not None:
        timeout = seconds(os.environ, "RENDERER_GITLAB_TIMEOUT", gitlab.DEFAULT_TIMEOUT)
        click.echo(gitlab.post_sticky(target, MARKER, note, timeout), err=True)
    if exit_code and not diff.empty:
        sys.exit(EXIT_CHANGES)


def treediff_of(
    url: str,
    apps: tuple[str, ...],
    all_apps: bool,
    envs: tuple[str, ...],
    image_pairs: tuple[str, ...],
    root: str | None,
    naming: tuple[str | None, str | None] = (None, None),
    preview: int | None = None,
) -> tuple[TreeDiff, preview_urls.Located | None]:
    """The diff, and where the app's preview of merge request `preview` answers (None: not asked)."""
    base = roots.find_root(root, os.environ)
    platform = platform_config.load_platform(base)
    req = delivery.Request(
        url=repo_url(url),
        apps=load_named(base, apps, platform.trust, *naming),
        all_apps=all_apps,
        env_ids=envs,
        images=images(image_pairs),
        allow_mass_delete=True,  # a preview shows a mass delete; publishing it still needs the flag
        jobs=roots.jobs(os.environ),
        sensitive=sensitive_values(os.environ),
        identity=Identity("diff", True, "local"),  # only compares: no owner is checked or recorded
        git_timeout=seconds(os.environ, "RENDERER_GIT_TIMEOUT", gitrepo.DEFAULT_TIMEOUT),
    )
    options = pipeline.Options(dict(req.images), req.jobs, sensitive=req.sensitive)
    seen = preview_urls.url_of_app(platform, req.apps, preview, options)
    return preview_diff.combined(preview_diff.preview(platform, req, os.environ)), seen


def load_named(
    base: str, apps: tuple[str, ...], trust: Trust, token_var: str | None, app_id: str | None
) -> tuple[App, ...]:
    """Apps by folder name; with --id-token-var or --app-id the one app is named as publish names it
    (after its owner), so the diff compares with what that app published."""
    paths = [os.path.abspath(a) for a in apps]
    if not token_var and not app_id:
        return app_repo.load_apps(paths, base, limits=trust.limits)
    if len(paths) != 1:
        raise UsageError("--id-token-var and --app-id name one app: give one --app")
    if token_var:
        timeout = seconds(os.environ, "RENDERER_OIDC_TIMEOUT", idtoken.DEFAULT_TIMEOUT)
        identity = from_token(os.environ, token_var, trust, timeout)
        check_checkout(paths[0], identity)
        owner = identity.owner
    else:
        owner = app_id or ""
    return app_repo.load_apps(paths, base, names=[app_name(owner, trust)], limits=trust.limits)


def _markdown(
    diff: TreeDiff, limit: int | None, artifact: str | None, seen: preview_urls.Located | None = None
) -> str:
    job = os.environ.get("CI_JOB_URL", "")
    url = f"{job}/artifacts/file/{artifact}" if job and artifact and not os.path.isabs(artifact) else None
    header = f"{HEADER}\n\n{seen.markdown()}" if seen else HEADER
    return diffmarkdown.markdown(diff, limit=limit, artifact=artifact, header=header, artifact_url=url)


def _json(diff: TreeDiff, seen: preview_urls.Located | None = None) -> str:
    body = {**treediff.as_json(diff), **(seen.as_json() if seen else {})}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"
