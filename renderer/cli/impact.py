"""`renderer impact`: what a platform-config change does to every app the environment repo holds."""

from __future__ import annotations

import json
import os
import sys
import tempfile

import click

from renderer.adapters import gitlab, gitrepo
from renderer.cli.base import echo_lines, handled, repo_url, report_options, root_option, seconds, write_file
from renderer.errors import EXIT_INTERNAL, EXIT_INVALID, EXIT_POLICY, InputError
from renderer.inputs import platform_config, roots
from renderer.model import Limits
from renderer.publish import bookkeeping
from renderer.review import impactreport, impactrun
from renderer.review.impact import Impact

MARKER = "<!-- platform-renderer:impact -->"  # hidden: finds this command's sticky note on the MR
ENV_BRANCH = "main"


@click.command("impact")
@click.option("--base", required=True, help="The platform-config commit to compare with (a ref).")
@click.option("--head", default=None, help="The changed commit (a ref); default: the work tree as it is.")
@click.option(
    "--env-repo", "url", required=True, help="Environment repo: path or git URL (its apps are read)."
)
@report_options
@root_option
@handled
def command(
    base: str,
    head: str | None,
    url: str,
    fmt: str,
    output: str | None,
    artifact: str | None,
    limit: int | None,
    post_note: bool,
    root: str | None,
) -> None:
    """Render every app the environment repo holds, in every environment, with this repo at --base
    (by the base's own renderer) and at --head, and report what changes and why. Exit 0, or the
    exit code of the first app that newly fails (3 invalid input, 4 policy, 70 anything else)."""
    target = gitlab.note_target_from(os.environ) if post_note else None  # before the work: fail fast
    gitrepo.check_url(url)
    platform_root = roots.find_root(root, os.environ)
    with tempfile.TemporaryDirectory(prefix="renderer-impact-") as workdir:
        req = _request(platform_root, base, head, url, workdir)
        echo_lines(
            [f"impact: rendering {len(req.apps)} stored app(s) at {base} and at {head or 'the work tree'}"]
        )
        impact = impactrun.run(req, workdir, os.environ)
    if artifact:
        write_file(artifact, impactreport.text(impact))
    note = _markdown(impact, limit, artifact)
    report = {
        "text": lambda: impactreport.text(impact),
        "json": lambda: json.dumps(impactreport.as_json(impact), indent=2, sort_keys=True) + "\n",
        "markdown": lambda: note,
    }[fmt]()
    if output:
        write_file(output, report)
    else:
        click.echo(report, nl=False)
    if target is not None:
        timeout = seconds(os.environ, "RENDERER_GITLAB_TIMEOUT", gitlab.DEFAULT_TIMEOUT)
        click.echo(gitlab.post_sticky(target, MARKER, note, timeout), err=True)
    if impact.new_failures:
        code = impact.new_failures[0].code
        sys.exit(code if code in (EXIT_INVALID, EXIT_POLICY) else EXIT_INTERNAL)


def _markdown(impact: Impact, limit: int | None, artifact: str | None) -> str:
    job = os.environ.get("CI_JOB_URL", "")
    url = f"{job}/artifacts/file/{artifact}" if job and artifact and not os.path.isabs(artifact) else None
    return impactreport.markdown(impact, limit=limit, artifact=artifact, artifact_url=url)


def _request(platform_root: str, base: str, head: str | None, url: str, workdir: str) -> impactrun.Request:
    """The stored apps of the environment repo's main, read from a fresh clone. Only their folders
    are checked out (the renderers of both sides read them there): the rendered files, most of
    the repo, are neither fetched nor written (82,000 at 1,000 apps took 20 s to check out and as
    long again to remove on a slow disk)."""
    clone = os.path.join(workdir, "env-repo")
    timeout = seconds(os.environ, "RENDERER_GIT_TIMEOUT", gitrepo.DEFAULT_TIMEOUT)
    repo = gitrepo.open_clone(repo_url(url), clone, ENV_BRANCH, os.environ, timeout=timeout)
    stored = gitrepo.fetch_head(repo, ENV_BRANCH, history=False, blobs=False)  # not `head`: the platform's
    if stored is not None:
        gitrepo.checkout_part(repo, ENV_BRANCH, stored, lambda path: path.startswith(f"{bookkeeping.STORE}/"))
    apps, broken = bookkeeping.stored_apps(repo, _limits(platform_root))
    echo_lines([f"SKIPPED app '{name}': its stored inputs no longer load" for name in sorted(broken)])
    dirs = {name: os.path.join(clone, bookkeeping.STORE, name) for name in apps}
    return impactrun.Request(platform_root, base, head, apps, dirs, clone)


def _limits(root: str) -> Limits:
    try:
        return platform_config.load_platform(root).trust.limits
    except InputError:
        return Limits()  # the head side reports what is wrong; the apps load under the defaults
