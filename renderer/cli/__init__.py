"""The command line: one thin module per command; errors become exit codes by category (`base`).

Commands are imported when they run, so `renderer --help` does not pay for the policy engine,
the schemas or python-gitlab.
"""

from __future__ import annotations

import importlib

import click

from renderer import __version__

# command → its one-line help, as `renderer --help` lists it without importing the command
COMMANDS = {
    "validate": "Check every input, or the given Score files and app folders.",
    "explain": "Why each resource of a workload matched what it matched.",
    "render": "Render the environment-repo tree into a folder (no git).",
    "graph": "The resource graph of an environment as Mermaid, DOT or JSON.",
    "publish": "Render, commit what changed and push to the environment repo.",
    "identity": "Verify a GitLab ID token; print the project and commit it proves.",
    "demo": "The shipped examples end to end, into a local environment repo.",
    "policy": "Conftest-compatible Rego policies: their unit tests.",
}


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command: click.Command = importlib.import_module(f"renderer.cli.{cmd_name}").command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(list(COMMANDS.items()))


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="renderer")
def main() -> None:
    """Render Score workloads with platform definitions into a GitOps environment repo."""
