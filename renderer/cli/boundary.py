"""The CLI's last line of defence: an unexpected exception is a bug, reported in one line.

The user sees the command, what it was working on, "internal error", exit 70 and the path of a
trace file; the trace itself (redacted of every credential in the environment) goes to that file,
which CI keeps as an artifact. `renderer --debug` (or RENDERER_DEBUG=1) prints it as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import click

from renderer import __version__
from renderer.errors import EXIT_INTERNAL, redact

EXIT_INTERRUPTED = 130  # SIGINT, as shells report it


def trace_dir(environ: Mapping[str, str]) -> str:
    """RENDERER_TRACE_DIR; in GitLab CI `.renderer/traces` of the job's checkout (an artifact);
    otherwise the temporary directory."""
    if environ.get("RENDERER_TRACE_DIR"):
        return environ["RENDERER_TRACE_DIR"]
    if environ.get("CI_PROJECT_DIR"):
        return os.path.join(environ["CI_PROJECT_DIR"], ".renderer", "traces")
    import tempfile  # here, not at the top: `renderer --help` pays for no more than it uses

    return tempfile.gettempdir()


def internal_error(exc: BaseException, argv: Sequence[str], environ: Mapping[str, str], debug: bool) -> int:
    """Report a bug: one line on stderr, the trace in a file (and on stderr with --debug); the exit code."""
    import traceback

    from renderer.checks.secrets import sensitive_values

    secrets = sensitive_values(environ)
    command = redact(" ".join(["renderer", *argv]), secrets)
    trace = redact("".join(traceback.format_exception(exc)), secrets)
    where = _write_trace(command, trace, environ)
    kind = type(exc).__name__
    click.echo(
        f"error: {command}: internal error ({kind}); a bug in the renderer, not in your inputs. "
        f"The trace is in {where}; please report it.",
        err=True,
    )
    if debug:
        click.echo(trace, err=True, nl=False)
    return EXIT_INTERNAL


def _write_trace(command: str, trace: str, environ: Mapping[str, str]) -> str:
    import datetime
    import platform
    import tempfile

    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = trace_dir(environ)
    body = (
        f"command: {command}\nrenderer: {__version__}\npython: {sys.version.split()[0]} "
        f"on {platform.platform()}\ntime: {stamp}\n\n{trace}"
    )
    try:
        os.makedirs(directory, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=f"renderer-trace-{stamp}-", suffix=".txt", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
    except OSError as exc:
        return f"(nowhere: {directory} is not writable: {exc.strerror})"
    return path
