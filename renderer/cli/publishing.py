"""What `renderer publish` does once cli/publish.py has read its options and started fetching main:
load the platform and the apps, prove who publishes, publish, report. Imported while that fetch runs."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace

import click

from renderer import pipeline
from renderer.adapters import gitlab, idtoken
from renderer.checks.secrets import sensitive_values
from renderer.cli import progress, sharding
from renderer.cli.base import (
    echo_json,
    echo_lines,
    images,
    platform_commit,
    repo_url,
    seconds,
)
from renderer.cli.publish import gitlab_missing
from renderer.errors import UsageError
from renderer.inputs import app_repo, platform_config, roots
from renderer.model import App, Platform, Trust
from renderer.publish import atlantis, delivery, phases, preview_urls, previews, workspace
from renderer.publish.identity import Identity, app_name, check_checkout, establish, in_ci


def run(
    early: workspace.Early | None,
    workdir: str,
    git_timeout: float,
    url: str,
    apps: tuple[str, ...],
    all_apps: bool,
    remove: tuple[str, ...],
    envs: tuple[str, ...],
    all_envs: bool,
    image_pairs: tuple[str, ...],
    allow_mass_delete: bool,
    destroyed: tuple[str, ...],
    token_var: str | None,
    app_id: str | None,
    preview: int | None,
    unpreview: int | None,
    check_aws: bool,
    shard: str | None,
    shard_dir: str,
    merge_dir: str | None,
    root: str | None,
    fmt: str,
    quiet: bool,
) -> None:
    """Render, commit what changed and push (`renderer publish`, its options as click read them),
    in `workdir`, taking main's head from the `early` fetch where it fits."""
    gitlab_timeout = seconds(os.environ, "RENDERER_GITLAB_TIMEOUT", gitlab.DEFAULT_TIMEOUT)
    base = roots.find_root(root, os.environ)
    platform = platform_config.load_platform(base)
    for name in remove:
        delivery.check_removable(name, platform.trust)
    merge_requests = _merge_requests(gitlab_timeout)
    previewing = preview is not None or unpreview is not None  # the preview environment: always direct
    if (
        merge_requests is None and in_ci(os.environ) and not previewing
    ):  # outside CI: may push the branch alone
        delivery.require_merge_requests(platform, envs, gitlab_missing(os.environ))
    folder = os.path.basename(os.path.abspath(apps[0])) if len(apps) == 1 else ""
    oidc_timeout = seconds(os.environ, "RENDERER_OIDC_TIMEOUT", idtoken.DEFAULT_TIMEOUT)
    identity = establish(os.environ, platform.trust, app_id, token_var, folder, oidc_timeout)
    shown = progress.reporter(quiet)
    try:
        loaded = _load(base, apps, identity, platform.trust, shown)
        req = delivery.Request(
            url=repo_url(url),
            apps=loaded,
            all_apps=all_apps,
            remove_apps=remove,
            env_ids=envs,
            images=images(image_pairs),
            allow_mass_delete=allow_mass_delete,
            destroyed=destroyed,
            provenance=delivery.Provenance.from_environ(os.environ, platform_commit(base)),
            platform_digest=roots.platform_digest(base),
            jobs=roots.jobs(os.environ),
            sensitive=sensitive_values(os.environ),
            identity=identity,
            git_timeout=git_timeout,
            progress=shown,
        )
        if check_aws:
            req = replace(req, gate=_gate(platform, loaded, envs, images(image_pairs)))
            req = replace(req, pins=req.gate.pins)
        req = previews.select(platform, req, preview, unpreview)
        if shard is not None:
            click.echo(f"shard manifest: {sharding.run_shard(platform, req, shard, shard_dir)}")
            return
        req = sharding.merging(req, merge_dir)
        outcomes = delivery.publish(
            platform, req, os.environ, merge_requests, workdir=workdir, drafts=merge_requests, early=early
        )
    finally:
        shown.close()
    _report(outcomes, fmt)
    if preview is not None and fmt == "text":
        click.echo(preview_urls.url(platform, req).text(), nl=False)


def _gate(
    platform: Platform, apps: Sequence[App], envs: Sequence[str], image_map: Mapping[str, str]
) -> phases.Gate:
    """`--check-aws`: the ECR digests of the images the apps publish, where an environment pins them;
    the objects that wait for secrets AWS does not have yet."""
    from renderer.adapters.aws import Aws
    from renderer.cli.check import target

    selected = pipeline.select_envs(platform, list(envs) or None)
    options = pipeline.Options(image_map, roots.jobs(os.environ), sensitive=sensitive_values(os.environ))
    return phases.gate(platform, apps, selected, options, lambda env: Aws(target(env)))


def _merge_requests(timeout: float) -> gitlab.MergeRequests | None:
    gl = gitlab.settings_from(os.environ)
    return gitlab.MergeRequests(*gl, timeout=timeout) if gl else None


def _report(outcomes: Sequence[delivery.Outcome], fmt: str) -> None:
    if fmt == "json":
        echo_json([_as_dict(o) for o in outcomes])
        return
    for o in outcomes:
        echo_lines(list(o.warnings))
        click.echo(_as_text(o))
        if o.terraform_commit:
            click.echo(_terraform_text(o))
        if o.held:
            click.echo(_held_text(o))
        if o.commit and o.target != "main" and not o.merge_request:
            missing = ", ".join(gitlab_missing(os.environ))
            click.echo(
                f"warning: no merge request was opened for {o.target}: GitLab is not configured "
                f"({missing} not set); open it by hand",
                err=True,
            )


def _load(
    base: str, apps: Sequence[str], identity: Identity, trust: Trust, shown: progress.Reporter
) -> tuple[App, ...]:
    """Apps by folder, with progress; see `_load_apps`."""
    shown("load apps", 0, len(apps))
    loaded = _load_apps(base, apps, identity, trust)
    shown("load apps", len(apps), len(apps))
    return loaded


def _load_apps(base: str, apps: Sequence[str], identity: Identity, trust: Trust) -> tuple[App, ...]:
    """Apps by folder; with a proven owner the one app is named after its owner, at the proven commit."""
    if identity.how == "local" or not apps:
        return app_repo.load_apps([os.path.abspath(a) for a in apps], base, limits=trust.limits)
    if len(apps) != 1:
        raise UsageError(f"{identity.owner} may publish one app at a time: its own")
    check_checkout(apps[0], identity)
    name = app_name(identity.owner, trust)
    return app_repo.load_apps([os.path.abspath(apps[0])], base, names=[name], limits=trust.limits)


def _terraform_text(o: delivery.Outcome) -> str:
    """The Terraform of direct environments: where it went, and the one step that applies it."""
    where = f"merge request {o.terraform_merge_request}" if o.terraform_merge_request else "no merge request"
    head = f"{o.terraform_branch} ({', '.join(o.envs)}): Terraform {(o.terraform_commit or '')[:12]}, {where}"
    if not o.terraform_merge_request:
        missing = ", ".join(gitlab_missing(os.environ)) or "GitLab"
        return f"{head}\nwarning: open a merge request for {o.terraform_branch} by hand ({missing} not set)"
    step = f"next: once Atlantis has planned it, comment `{atlantis.APPLY_COMMENT}` on it"
    return f"{head}\n{step} (Atlantis merges it after the apply)"


def _held_text(o: delivery.Outcome) -> str:
    """The second phase: what waits for AWS, and where."""
    where = f"draft merge request {o.held_merge_request}" if o.held_merge_request else "no merge request"
    listed = "".join(f"\n  {p}" for p in o.held)
    return (
        f"{o.held_branch} ({', '.join(o.envs)}): {len(o.held)} object(s) held back until AWS has their "
        f"secrets, {where}:{listed}\nnext: once the Terraform is applied, run this publish again"
    )


def _as_dict(o: delivery.Outcome) -> dict[str, object]:
    return {
        "branch": o.target,
        "envs": list(o.envs),
        "commit": o.commit,
        "attempts": o.attempts,
        "written": o.written,
        "deleted": o.deleted,
        "merge_request": o.merge_request,
        "terraform_branch": o.terraform_branch or None,
        "terraform_commit": o.terraform_commit,
        "terraform_merge_request": o.terraform_merge_request or None,
        "warnings": list(o.warnings),
        "held": list(o.held),
        "held_branch": o.held_branch or None,
        "held_merge_request": o.held_merge_request or None,
    }


def _as_text(o: delivery.Outcome) -> str:
    if o.commit is None:
        return f"{o.target} ({', '.join(o.envs)}): up to date, no commit"
    extra = f", merge request {o.merge_request}" if o.merge_request else ""
    return (
        f"{o.target} ({', '.join(o.envs)}): {o.commit[:12]} "
        f"({o.written} written, {o.deleted} deleted, attempt {o.attempts}){extra}"
    )
