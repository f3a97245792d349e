"""`renderer graph`: the resource graph of an environment as Mermaid, DOT or JSON."""

from __future__ import annotations

import os

import click

from renderer import pipeline
from renderer.cli.base import handled, root_option
from renderer.inputs import roots
from renderer.review import graphview


@click.command("graph")
@click.option("--env", "env_id", required=True)
@click.option("--app", "apps", multiple=True)
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid")
@root_option
@handled
def command(env_id: str, apps: tuple[str, ...], fmt: str, root: str | None) -> None:
    """The resource graph of an environment as Mermaid, DOT or JSON."""
    inputs = roots.load(roots.find_root(root, os.environ), list(apps))
    analysis = pipeline.analyse_env(inputs.platform, inputs.apps, env_id)
    click.echo(graphview.render(analysis.graph, fmt), nl=False)
