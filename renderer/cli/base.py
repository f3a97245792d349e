"""What every command shares: the error boundary, common options, and small argument parsers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click

from renderer.errors import RendererError, UsageError

if TYPE_CHECKING:
    from renderer.checks.findings import Report
    from renderer.pipeline import Options

P = ParamSpec("P")
R = TypeVar("R")

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False),
    default=None,
    help="Platform-config checkout (default: here, else the shipped one).",
)
format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
quiet_option = click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress on stderr (else a live bar on a terminal, a line per stage in logs).",
)


NOTE_ROOM = 1_000_000 - 1_000  # GitLab takes 1,000,000 characters in a note; the marker and a margin
REPORT_OPTIONS = (
    click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text"),
    click.option("--output", type=click.Path(dir_okay=False), help="Write the report to FILE, not stdout."),
    click.option(
        "--artifact",
        type=click.Path(dir_okay=False),
        help="Save the full report (text) at PATH; a Markdown report shortened to fit points at it.",
    ),
    click.option(
        "--limit",
        type=click.IntRange(10_000, NOTE_ROOM),
        default=None,
        help="Characters a Markdown report may take (default 900,000; GitLab takes 1,000,000 in one note).",
    ),
    click.option("--post-note", is_flag=True, help="Post the Markdown report as the MR's one sticky note."),
)


def report_options(func: Callable[P, R]) -> Callable[P, R]:
    """What `diff` and `impact` share: the report's format, where it goes, its size, the MR note."""
    for option in reversed(REPORT_OPTIONS):
        func = option(func)
    return func


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """Map our errors to exit codes and readable reports; anything else reaches the boundary (exit 70)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RendererError as exc:
            report_error(exc, str(kwargs.get("fmt", "text")))
            sys.exit(exc.exit_code)

    return wrapper


def report_error(exc: RendererError, fmt: str) -> None:
    """The problems, then the error's one-line summary (PolicyDenied's says nothing was written)."""
    problems = exc.problems()
    if fmt == "json":
        body = {
            "ok": False,
            "error": type(exc).__name__,
            "message": exc.summary(),
            "problems": [p.as_dict() for p in problems],
        }
        click.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    if not problems:
        click.echo(f"error: {exc}", err=True)
        return
    for p in problems:
        click.echo(p.render(), err=True)
    click.echo(exc.summary(), err=True)


def pipeline_options(image_map: Mapping[str, str], environ: Mapping[str, str]) -> Options:
    """What every rendering command takes from the environment: worker count, credentials to scan for."""
    from renderer.checks.secrets import sensitive_values
    from renderer.inputs import roots
    from renderer.pipeline import Options

    return Options(image_map, roots.jobs(environ), sensitive=sensitive_values(environ))


def check_summary(report: Report) -> tuple[list[str], str]:
    """The checks' warnings and schema summary, as every rendering command reports them."""
    from renderer.checks import kubeschema

    return [w.render() for w in report.warnings], kubeschema.summary(report.schema)


def echo_lines(lines: Sequence[str]) -> None:
    """Diagnostics go to stderr, so stdout stays the command's result."""
    for line in lines:
        click.echo(line, err=True)


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def images(pairs: Sequence[str]) -> dict[str, str]:
    """`--image WORKLOAD[.CONTAINER]=IMAGE`, or a bare IMAGE for every `image: .`."""
    out = {}
    for pair in pairs:
        key, sep, image = pair.partition("=")
        if not sep:
            key, image = "", pair
        out[key] = image
    return out


def exclusive(envs: Sequence[str], all_envs: bool) -> None:
    if all_envs and envs:
        raise UsageError("--env and --all-envs exclude each other")


def platform_commit(root: str) -> str:
    proc = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def repo_url(url: str) -> str:
    return os.path.abspath(url) if os.path.isdir(url) else url


def seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    """A timeout from the environment: a positive number of seconds, or the default when unset."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name}={raw!r}: give a number of seconds greater than 0 (default {default:g})")
    return value


def write_file(path: str, text: str) -> None:
    """A report or artifact the user asked for at `path`; a path that cannot be written is a usage error."""
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
