"""The command line: one thin module per command; errors become exit codes by category (`base`).

Commands are imported when they run, so `renderer --help` does not pay for the policy engine,
the schemas or python-gitlab.
"""

from __future__ import annotations

import importlib
import os

import click

from renderer import __version__
from renderer.cli import boundary

# command → its one-line help, as `renderer --help` lists it without importing the command
COMMANDS = {
    "validate": "Check every input, or the given Score files and app folders.",
    "explain": "Why each resource of a workload matched what it matched.",
    "render": "Render the environment-repo tree into a folder (no git).",
    "graph": "The resource graph of an environment as Mermaid, DOT or JSON.",
    "diff": "What a publish would change, object by object (no commit).",
    "impact": "What a platform-config change does to every stored app, and why.",
    "check": "Whether the secrets, images and state bucket it uses exist in AWS.",
    "publish": "Render, commit what changed and push to the environment repo.",
    "preview": "Where an app's preview of a merge request answers (offline).",
    "rollback": "Publish an app's stored inputs as of an older revision.",
    "atlantis": "Apply the bot's planned Terraform merge requests via Atlantis.",
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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["renderer.argv"] = list(args)  # for the boundary's one line: what was asked
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        """Every command runs inside the boundary: our errors were mapped to exit codes by the
        command (`base.handled`); anything else is a bug, reported in one line with exit 70."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted; nothing was published", err=True)
            ctx.exit(boundary.EXIT_INTERRUPTED)
        except Exception as exc:  # the boundary: whatever it is, the user gets one line and exit 70
            debug = bool(ctx.meta.get("renderer.debug"))
            argv = ctx.meta.get("renderer.argv", [])
            ctx.exit(boundary.internal_error(exc, argv, os.environ, debug))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(list(COMMANDS.items()))


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="renderer")
@click.option(
    "--debug",
    is_flag=True,
    envvar="RENDERER_DEBUG",
    help="On an internal error (exit 70), print its trace too (it is always written to a file).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Render Score workloads with platform definitions into a GitOps environment repo."""
    ctx.meta["renderer.debug"] = debug
