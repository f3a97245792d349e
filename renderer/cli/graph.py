"""`renderer graph`: the resource graph of an environment as Mermaid, Markdown, DOT or JSON."""

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
@click.option("--format", "fmt", type=click.Choice(["mermaid", "markdown", "dot", "json"]), default="mermaid")
@click.option(
    "--only",
    multiple=True,
    help="Draw only this resource uid or app/workload and its neighbours (repeatable).",
)
@click.option(
    "--limit",
    type=click.IntRange(1_000, graphview.MERMAID_MAX_TEXT),
    default=graphview.LIMIT,
    show_default=True,
    help="Most characters of Mermaid; past it, one node per resource definition, then a sentence.",
)
@click.option("--full", is_flag=True, help="Draw every resource, however large (for an artifact).")
@click.option("--artifact", help="Where the full graph is kept: the link a capped Markdown picture gives.")
@root_option
@handled
def command(
    env_id: str,
    apps: tuple[str, ...],
    fmt: str,
    only: tuple[str, ...],
    limit: int,
    full: bool,
    artifact: str | None,
    root: str | None,
) -> None:
    """The resource graph of an environment as Mermaid, Markdown, DOT or JSON."""
    inputs = roots.load(roots.find_root(root, os.environ), list(apps))
    analysis = pipeline.analyse_env(inputs.platform, inputs.apps, env_id)
    text = graphview.render(
        analysis.graph, fmt, limit=0 if full else limit, only=only or None, artifact=artifact
    )
    click.echo(text, nl=False)
