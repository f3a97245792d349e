"""`renderer demo`: the embedded default end to end: every example app, every environment, a local repo."""

from __future__ import annotations

import os

import click

from renderer.cli.base import echo_json, format_option, handled, platform_commit, root_option
from renderer.inputs import roots
from renderer.publish import demo


@click.command("demo")
@click.option(
    "--env-repo",
    "path",
    default=None,
    type=click.Path(file_okay=False),
    help="Bare repo to publish to (default: .demo/env-repo.git under the root).",
)
@root_option
@format_option
@handled
def command(path: str | None, root: str | None, fmt: str) -> None:
    """The embedded default end to end: every example app, every environment, a local env repo."""
    base = roots.find_root(root, os.environ)
    bare = path or os.path.join(base, ".demo", "env-repo.git")
    summary = demo.run(base, bare, platform_commit(base), os.environ)
    if fmt == "json":
        echo_json(summary)
    else:
        click.echo(demo.as_text(summary))
