"""`renderer explain`: why each resource of a workload matched what it matched."""

from __future__ import annotations

import os

import click

from renderer import pipeline
from renderer.cli.base import echo_json, format_option, handled, root_option
from renderer.inputs import roots
from renderer.review import explain


@click.command("explain")
@click.option("--app", "app", required=True, help="App directory or shipped example id.")
@click.option("--workload", required=True)
@click.option("--env", "env_id", required=True)
@root_option
@format_option
@handled
def command(app: str, workload: str, env_id: str, root: str | None, fmt: str) -> None:
    """Which definition each resource matched, what was rejected and why, the outputs."""
    inputs = roots.load(roots.find_root(root, os.environ), [app])
    analysis = pipeline.analyse_env(inputs.platform, inputs.apps, env_id)
    data = explain.explain(analysis, inputs.apps[0].id, workload)
    if fmt == "json":
        echo_json(data)
    else:
        click.echo(explain.as_text(data), nl=False)
