"""`renderer rollback`: publish an app's stored inputs as they were at an older environment-repo revision."""

from __future__ import annotations

import dataclasses
import os
import tempfile

import click

from renderer.adapters import gitlab, gitrepo, idtoken
from renderer.checks.secrets import sensitive_values
from renderer.cli.base import (
    echo_json,
    echo_lines,
    format_option,
    handled,
    platform_commit,
    repo_url,
    root_option,
    seconds,
)
from renderer.cli.publish import gitlab_missing
from renderer.errors import AccessDenied
from renderer.inputs import platform_config, roots
from renderer.model import Platform
from renderer.publish import delivery, preview, rollback, workspace
from renderer.publish.identity import Identity, app_name, establish, in_ci
from renderer.review import treediff


@click.command("rollback")
@click.option("--env-repo", "url", required=True, help="Environment repo: path or git URL.")
@click.option("--env", "env_id", required=True, help="The environment to roll back.")
@click.option("--app", "app_id", required=True, help="The app's name, as the environment repo stores it.")
@click.option("--to", "revision", required=True, help="Environment-repo revision (in main's history).")
@click.option("--dry-run", is_flag=True, help="Show what the rollback would change; commit nothing.")
@click.option("--id-token-var", "token_var", default=None, help="Variable holding a GitLab ID token (CI).")
@click.option("--app-id", "owner", default=None, help="Owner (project path) for local runs; refused in CI.")
@root_option
@format_option
@handled
def command(
    url: str,
    env_id: str,
    app_id: str,
    revision: str,
    dry_run: bool,
    token_var: str | None,
    owner: str | None,
    root: str | None,
    fmt: str,
) -> None:
    """Publish APP's stored inputs as they were at environment-repo revision --to, as one new commit
    (through the same render and checks as publish; a protected environment through its MR)."""
    gitrepo.check_url(url)
    base = roots.find_root(root, os.environ)
    platform = platform_config.load_platform(base)
    timeout = seconds(os.environ, "RENDERER_GIT_TIMEOUT", gitrepo.DEFAULT_TIMEOUT)
    oidc = seconds(os.environ, "RENDERER_OIDC_TIMEOUT", idtoken.DEFAULT_TIMEOUT)
    identity = establish(os.environ, platform.trust, owner, token_var, app_id, oidc)
    _check_may_roll_back(platform, identity, app_id)
    secrets = sensitive_values(os.environ)
    source = rollback.Source(repo_url(url), os.environ, secrets, timeout)
    with tempfile.TemporaryDirectory(prefix=workspace.CLONE_PREFIX) as work:
        stored = rollback.stored_at(source, app_id, revision, work, platform.trust.limits)
        rollback.check_env(stored, env_id, revision)
        if stored.others(env_id):
            click.echo(
                f"warning: {app_id}'s stored inputs are shared by its environments; after this rollback "
                f"a platform-wide publish renders {', '.join(stored.others(env_id))} from them too: roll "
                "those back as well, or publish the app again from its repo",
                err=True,
            )
        req = _request(platform, base, source, stored, env_id, identity)
        if dry_run:
            diff = preview.combined(preview.preview(platform, req, os.environ))
            if fmt == "json":
                echo_json(treediff.as_json(diff))
            else:
                click.echo(treediff.text(diff), nl=False)
            return
        outcomes = delivery.publish(platform, req, os.environ, _merge_requests(platform, env_id))
    _report(outcomes, stored, fmt)


def _check_may_roll_back(platform: Platform, identity: Identity, app_id: str) -> None:
    """The platform may roll back any app; an app's pipeline only the app named after it."""
    if identity.platform:
        return
    own = app_name(identity.owner, platform.trust)
    if own != app_id:
        raise AccessDenied(
            f"{identity.owner} ({identity.how}) may roll back only its own app '{own}', not '{app_id}'"
        )


def _request(
    platform: Platform,
    base: str,
    source: rollback.Source,
    stored: rollback.Stored,
    env_id: str,
    identity: Identity,
) -> delivery.Request:
    provenance = delivery.Provenance.from_environ(os.environ, platform_commit(base))
    provenance = dataclasses.replace(
        provenance, source_repo=f"rollback of {stored.app.id} to {source.url}", source_commit=stored.revision
    )
    return delivery.Request(
        url=source.url,
        apps=(stored.app,),
        env_ids=(env_id,),
        images=stored.images,
        provenance=provenance,
        platform_digest=roots.platform_digest(base),
        jobs=roots.jobs(os.environ),
        sensitive=tuple(source.secrets),
        identity=identity,
        git_timeout=source.timeout,
    )


def _merge_requests(platform: Platform, env_id: str) -> gitlab.MergeRequests | None:
    """As publish: in CI a protected environment needs GitLab's settings before anything is pushed."""
    timeout = seconds(os.environ, "RENDERER_GITLAB_TIMEOUT", gitlab.DEFAULT_TIMEOUT)
    settings = gitlab.settings_from(os.environ)
    if settings is None and in_ci(os.environ):
        delivery.require_merge_requests(platform, (env_id,), gitlab_missing(os.environ))
    return gitlab.MergeRequests(*settings, timeout=timeout) if settings else None


def _report(outcomes: list[delivery.Outcome], stored: rollback.Stored, fmt: str) -> None:
    rows = [
        {"branch": o.target, "envs": list(o.envs), "commit": o.commit, "merge_request": o.merge_request}
        for o in outcomes
    ]
    if fmt == "json":
        echo_json({"app": stored.app.id, "revision": stored.revision, "published": rows})
        return
    for o in outcomes:
        echo_lines(list(o.warnings))
        what = f"commit {o.commit[:12]}" if o.commit else "already as it was: no commit"
        extra = f", merge request {o.merge_request}" if o.merge_request else ""
        envs = ", ".join(o.envs)
        click.echo(
            f"{stored.app.id} in {envs} rolled back to {stored.revision[:12]}: {o.target} {what}{extra}"
        )
