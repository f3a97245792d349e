"""`renderer validate`: load every input, render it in memory and run every check."""

from __future__ import annotations

import os

import click

from renderer import pipeline
from renderer.cli.base import (
    check_summary,
    echo_json,
    echo_lines,
    format_option,
    handled,
    pipeline_options,
    root_option,
)
from renderer.errors import UsageError
from renderer.inputs import roots, spec

PLACEHOLDER_IMAGE = "registry.example.com/validate/placeholder:0"


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--spec",
    "spec_only",
    is_flag=True,
    help="Check only the Score specification, as score-go does: no platform, no root needed.",
)
@root_option
@format_option
@handled
def command(paths: tuple[str, ...], spec_only: bool, root: str | None, fmt: str) -> None:
    """Check every shipped input, or the given Score files / app directories."""
    if spec_only:
        _spec(paths or (".",), root, fmt)
        return
    base = roots.find_root(root, os.environ)
    dirs = sorted({p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in paths})
    inputs = roots.load(base, dirs)
    options = pipeline_options({"": PLACEHOLDER_IMAGE}, os.environ)
    rendered = pipeline.run(inputs.platform, inputs.apps, None, options)
    warnings, schema = check_summary(rendered.report)
    summary: dict[str, object] = {
        "apps": len(inputs.apps),
        "workloads": sum(len(a.workloads) for a in inputs.apps),
        "environments": len(inputs.platform.environments),
        "definitions": len(inputs.platform.definitions),
        "profiles": len(inputs.platform.profiles),
        "policy_sets": len(inputs.platform.policies),
        "warnings": warnings,
        "schema": schema,
    }
    if fmt == "json":
        echo_json({"ok": True, **summary})
        return
    echo_lines([*warnings, schema])
    click.echo(
        f"ok: {summary['workloads']} workloads in {summary['apps']} apps, "
        f"{summary['environments']} environments, {summary['definitions']} resource "
        f"definitions, {summary['profiles']} profiles, rendered without error"
    )


def _spec(paths: tuple[str, ...], root: str | None, fmt: str) -> None:
    """`--spec`: the Score files alone; no platform is read, so no root is looked for."""
    if root is not None:
        raise UsageError("--spec reads no platform: leave out --root")
    count = spec.check_paths(paths)
    if fmt == "json":
        echo_json({"ok": True, "score_files": count})
        return
    click.echo(f"ok: {count} Score file(s) follow the Score specification (score.dev/v1b1)")
