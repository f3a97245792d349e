"""The command line: one thin module per command; errors become exit codes by category (`base`)."""

from __future__ import annotations

import click

from renderer import __version__
from renderer.cli import demo, explain, graph, identity, policy, publish, render, validate


@click.group()
@click.version_option(__version__, prog_name="renderer")
def main() -> None:
    """Render Score workloads with platform definitions into a GitOps environment repo."""


for _module in (validate, explain, render, graph, publish, identity, demo, policy):
    main.add_command(_module.command)
