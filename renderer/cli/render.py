"""`renderer render`: the environment-repo tree into a directory, checked, with no git."""

from __future__ import annotations

import os

import click

from renderer import pipeline
from renderer.cli.base import (
    check_summary,
    echo_json,
    echo_lines,
    exclusive,
    format_option,
    handled,
    images,
    pipeline_options,
    root_option,
)
from renderer.inputs import roots
from renderer.publish import writer


@click.command("render")
@click.option("--app", "apps", multiple=True, help="App directory (repeatable); default: examples.")
@click.option("--env", "envs", multiple=True, help="Environment id (repeatable); default: all.")
@click.option("--all-envs", is_flag=True, help="Every environment (the default).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--image", "image_pairs", multiple=True, help="WORKLOAD[.CONTAINER]=IMAGE for image '.'.")
@root_option
@format_option
@handled
def command(
    apps: tuple[str, ...],
    envs: tuple[str, ...],
    all_envs: bool,
    out: str,
    image_pairs: tuple[str, ...],
    root: str | None,
    fmt: str,
) -> None:
    """Render into DIR as the environment repo would hold it. Pure: no git."""
    exclusive(envs, all_envs)
    inputs = roots.load(roots.find_root(root, os.environ), list(apps))
    options = pipeline_options(images(image_pairs), os.environ)
    rendered = pipeline.run(inputs.platform, inputs.apps, list(envs) or None, options)
    result = writer.write_rendered(out, rendered.tree, rendered.owned, inputs.platform)
    warnings, schema = check_summary(rendered.report)
    summary = {
        "out": os.path.abspath(out),
        "files": len(rendered.tree),
        "written": len(result.written),
        "deleted": len(result.deleted),
        "environments": ", ".join(e.env.id for e in rendered.envs),
        "warnings": warnings,
        "schema": schema,
    }
    if fmt == "json":
        echo_json(summary)
        return
    echo_lines([*warnings, schema])
    click.echo(
        f"rendered {summary['files']} files for {summary['environments']} into "
        f"{summary['out']} ({summary['written']} written, {summary['deleted']} deleted)"
    )
