"""`renderer identity`: verify a GitLab ID token and say which project and commit it proves."""

from __future__ import annotations

import os
import shlex

import click

from renderer.adapters import idtoken
from renderer.cli.base import echo_json, handled, root_option, seconds
from renderer.inputs import platform_config, roots
from renderer.publish.identity import from_token


@click.command("identity")
@click.option("--id-token-var", "token_var", required=True, help="Environment variable holding the ID token.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "shell"]), default="text")
@root_option
@handled
def command(token_var: str, fmt: str, root: str | None) -> None:
    """Verify the token against the GitLab instance's keys; print its project and commit.

    `--format shell` prints RENDERER_APP_PROJECT and RENDERER_APP_SHA assignments for `eval`, so a
    job clones exactly what the token proves."""
    platform = platform_config.load_platform(roots.find_root(root, os.environ))
    timeout = seconds(os.environ, "RENDERER_OIDC_TIMEOUT", idtoken.DEFAULT_TIMEOUT)
    identity = from_token(os.environ, token_var, platform.trust, timeout)
    if fmt == "json":
        echo_json({"project": identity.owner, "sha": identity.sha, "platform": identity.platform})
    elif fmt == "shell":
        project, sha = shlex.quote(identity.owner), shlex.quote(identity.sha)
        click.echo(f"RENDERER_APP_PROJECT={project}; RENDERER_APP_SHA={sha}")
    else:
        click.echo(f"{identity.owner} at {identity.sha}" + (" (the platform)" if identity.platform else ""))
