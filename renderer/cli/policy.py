"""`renderer policy test`: the policies' own unit tests."""

from __future__ import annotations

import os

import click

from renderer.checks.rego import policyset
from renderer.cli.base import echo_json, format_option, handled, root_option
from renderer.errors import PolicyDenied
from renderer.inputs import roots
from renderer.inputs.policies import read_source


@click.group("policy")
def command() -> None:
    """Conftest-compatible Rego policies."""


@command.command("test")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@root_option
@format_option
@handled
def test(directory: str | None, root: str | None, fmt: str) -> None:
    """Run the policies' own *_test.rego unit tests, as `opa test` does."""
    base = directory or os.path.join(roots.find_root(root, os.environ), "policies")
    outcomes = policyset.run_tests(read_source(base))
    failed = [o for o in outcomes if not o.passed]
    if fmt == "json":
        echo_json([{"package": o.package, "test": o.name, "passed": o.passed} for o in outcomes])
    else:
        for o in outcomes:
            click.echo(f"{'PASS' if o.passed else 'FAIL'}: data.{o.package}.{o.name}")
        click.echo(f"{len(outcomes) - len(failed)}/{len(outcomes)} policy tests passed")
    if failed or not outcomes:
        raise PolicyDenied(
            "no policy tests found" if not outcomes else f"{len(failed)} policy test(s) failed"
        )
