"""`renderer atlantis apply`: the platform bot's step in the Atlantis flow of direct environments.

`publish` opens an `atlantis/<envs>/<scope>` merge request for the Terraform of directly delivered
environments; Atlantis plans it on its own (autoplan). This command waits, bounded, for that plan
and comments `atlantis apply` once it has succeeded; `automerge` merges the request after the
apply. It never applies a protected environment's Terraform (a person approves and applies that),
a request the bot did not open, or one that changes anything but those environments' Terraform.
"""

from __future__ import annotations

import json
import os
import time

import click

from renderer.adapters import gitlab
from renderer.cli.base import format_option, handled, root_option, seconds
from renderer.errors import EXIT_PUBLISH, UsageError
from renderer.inputs import platform_config, roots
from renderer.publish import atlantis


@click.group("atlantis")
def command() -> None:
    """The Atlantis flow of directly delivered environments."""


@command.command("apply")
@click.option(
    "--wait",
    type=click.FloatRange(0, 3600),
    default=900.0,
    show_default=True,
    help="Seconds to wait for Atlantis's plans to finish.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 300),
    default=15.0,
    show_default=True,
    help="Seconds between looks.",
)
@click.option(
    "--status-name",
    default="atlantis",
    show_default=True,
    help="Atlantis's --vcs-status-name: its statuses are NAME/plan and NAME/apply.",
)
@format_option
@root_option
@handled
def apply(wait: float, interval: float, status_name: str, fmt: str, root: str | None) -> None:
    """Comment `atlantis apply` on the renderer's own Terraform merge requests for directly delivered
    environments once Atlantis's plan has succeeded. Exit 0 when every one is applied, being applied
    or not the bot's to apply; 5 when a plan or apply failed, one was refused, or time ran out."""
    settings = gitlab.settings_from(os.environ)
    if settings is None:
        raise UsageError(
            "atlantis apply needs RENDERER_GITLAB_URL (or CI_SERVER_URL), RENDERER_GITLAB_TOKEN and "
            "RENDERER_ENV_REPO_PROJECT: the environment repo's project and the bot's token"
        )
    platform = platform_config.load_platform(roots.find_root(root, os.environ))
    direct = frozenset(e.id for e in platform.environments.values() if e.delivery == "direct")
    timeout = seconds(os.environ, "RENDERER_GITLAB_TIMEOUT", gitlab.DEFAULT_TIMEOUT)
    requests = gitlab.MergeRequests(*settings, timeout=timeout)
    seen = _rounds(requests, direct, status_name, wait, interval)
    rows = [
        {"merge_request": r.url, "branch": r.branch, "action": d.action, "reason": d.reason} for r, d in seen
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        lines = [f"!{r.iid} {r.branch}: {_said(d)}" for r, d in seen]
        click.echo("\n".join(lines or ["no open atlantis/ merge requests"]))
    if any(d.action in ("failed", "refuse", "wait") for _, d in seen):
        raise click.exceptions.Exit(EXIT_PUBLISH)


def _rounds(
    requests: gitlab.MergeRequests, direct: frozenset[str], status_name: str, wait: float, interval: float
) -> list[tuple[gitlab.OpenRequest, atlantis.Decision]]:
    """Look, comment where a plan is ready, and look again while some are still planning, until
    `wait` seconds have passed; what each merge request came to, in order."""
    deadline = time.monotonic() + wait
    final: dict[int, tuple[gitlab.OpenRequest, atlantis.Decision]] = {}
    while True:
        pending = 0
        for mr in requests.open_requests("atlantis/"):
            decision = atlantis.decide(mr, direct, status_name)
            if decision.action == "apply":
                requests.comment(mr.iid, atlantis.APPLY_COMMENT)
                decision = atlantis.Decision(
                    "applied", f"{decision.reason}: commented `{atlantis.APPLY_COMMENT}`"
                )
            pending += decision.action == "wait"
            before = final.get(mr.iid)
            if before is None or before[1].action != "applied":  # later looks say "done": keep what we did
                final[mr.iid] = (mr, decision)
        if not pending or time.monotonic() + interval > deadline:
            return [final[iid] for iid in sorted(final)]
        time.sleep(interval)


def _said(decision: atlantis.Decision) -> str:
    if decision.action == "wait":
        return f"still waiting ({decision.reason}); run this again once Atlantis has planned it"
    return f"{decision.action}: {decision.reason}"
