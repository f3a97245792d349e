"""`renderer check`: whether what an environment's output references exists in AWS, per app."""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import click

from renderer import pipeline
from renderer.adapters import gitlab, gitrepo
from renderer.adapters.aws import Aws, Target
from renderer.cli.base import (
    echo_json,
    format_option,
    handled,
    pipeline_options,
    repo_url,
    root_option,
    seconds,
)
from renderer.cli.publish import gitlab_missing
from renderer.errors import EXIT_POLICY, InputError, UsageError
from renderer.inputs import roots
from renderer.model import Environment
from renderer.publish import tombstones
from renderer.review import awscheck


@click.command("check")
@click.option("--env", "env_id", required=True, help="Environment id.")
@click.option(
    "--app",
    "apps",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="App directory (repeatable); default: every app of the inputs (the examples).",
)
@click.option("--all-apps", is_flag=True, help="Every app of the inputs (the default).")
@click.option(
    "--env-repo",
    "env_repo",
    default=None,
    help="Environment repo (path or git URL): also report its tombstoned Terraform projects and whether "
    "Atlantis destroyed them (GitLab commit statuses; needs the GitLab settings).",
)
@root_option
@format_option
@handled
def command(
    env_id: str, apps: tuple[str, ...], all_apps: bool, env_repo: str | None, root: str | None, fmt: str
) -> None:
    """Check that the secrets, ECR images and state bucket the output references exist (exit 4 if not)."""
    if all_apps and apps:
        raise UsageError("--app and --all-apps exclude each other")
    tombs = _tombstones(repo_url(env_repo), env_id) if env_repo else None
    inputs = roots.load(roots.find_root(root, os.environ), list(apps))
    rendered = pipeline.run(inputs.platform, inputs.apps, [env_id], pipeline_options({}, os.environ))
    (env_render,) = rendered.envs
    scopes = sorted({a.id for a in inputs.apps} | {"_shared"})
    cloud = Aws(target(env_render.env))
    report = awscheck.run(env_id, awscheck.needs(env_render, scopes), cloud)
    if fmt == "json":
        extra = {} if tombs is None else {"tombstones": [t.as_dict() for t in tombs]}
        echo_json({**report.as_dict(), **extra})
    else:
        click.echo(awscheck.text(report))
        if tombs is not None:
            click.echo(tombstones.text(tombs))
    if not report.ok:
        sys.exit(EXIT_POLICY)


def _tombstones(url: str, env_id: str) -> list[tombstones.Tombstone]:
    """The environment repo's tombstones of `env_id`, judged by Atlantis's statuses in GitLab."""
    settings = gitlab.settings_from(os.environ)
    if settings is None:
        missing = ", ".join(gitlab_missing(os.environ))
        raise UsageError(f"--env-repo asks GitLab for Atlantis's statuses: set {missing}")
    timeout = seconds(os.environ, "RENDERER_GITLAB_TIMEOUT", gitlab.DEFAULT_TIMEOUT)
    mrs = gitlab.MergeRequests(*settings, timeout=timeout)
    git_timeout = seconds(os.environ, "RENDERER_GIT_TIMEOUT", gitrepo.DEFAULT_TIMEOUT)
    return tombstones.read(url, env_id, os.environ, mrs.statuses, git_timeout)


def target(env: Environment) -> Target:
    """Where and as whom the checks run: the environment file's account, region and read-only role."""
    if not env.check_role:
        problem = env.doc.problem(
            ["aws", "check_role"],
            f"environment {env.id} names no read-only role for `renderer check`",
            "add aws.check_role: a role allowed secretsmanager:DescribeSecret, ecr:DescribeImages and "
            "s3:ListBucket (HeadBucket) only, separate from role_arn",
        )
        raise InputError(replace(problem, kind="platform"))
    return Target(env.id, env.file, env.account_id, env.region, env.check_role)
