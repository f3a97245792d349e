"""Progress on stderr: a live bar on a terminal (rich), one summary line per stage in CI logs.

The library reports `(stage, done, total)` through `pipeline.Progress`; this module decides how it
looks. rich is imported only when stderr is a terminal, so CI and `--help` do not pay for it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Protocol


class Reporter(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...

    def close(self) -> None: ...


class Quiet:
    """`--quiet`: nothing at all."""

    def __call__(self, stage: str, done: int, total: int) -> None:
        return None

    def close(self) -> None:
        return None


class Lines:
    """Not a terminal (a CI log): one line per stage, when it finishes, with its count and rate."""

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.clock = stream, clock
        self.started: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.started:
            self.started[stage] = self.clock()
        if done < total:
            return
        seconds = self.clock() - self.started.pop(stage)
        print(summary(stage, done, seconds), file=self.stream, flush=True)

    def close(self) -> None:
        return None


class Bars:
    """A terminal: a live bar per stage (done/total, rate, elapsed), kept on screen once done."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
        )
        self.bars = Progress(*columns, console=Console(file=stream), transient=False)
        self.tasks: dict[str, TaskID] = {}
        self.started: dict[str, float] = {}
        self.bars.start()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bars.add_task(stage, total=total, rate="")
            self.started[stage] = time.monotonic()
        elapsed = time.monotonic() - self.started[stage]
        self.bars.update(self.tasks[stage], completed=done, total=total, rate=rate(done, elapsed))

    def close(self) -> None:
        self.bars.stop()


def rate(done: int, seconds: float) -> str:
    return f"{done / seconds:,.0f}/s" if seconds > 0 and done else ""


def summary(stage: str, done: int, seconds: float) -> str:
    per = rate(done, seconds)
    return f"{stage}: {done:,} in {seconds:.1f} s" + (f" ({per})" if per and done > 1 else "")


def reporter(quiet: bool, stream: IO[str] | None = None) -> Reporter:
    """What `--quiet`, and whether stderr is a terminal, ask for."""
    out = stream or sys.stderr
    if quiet:
        return Quiet()
    return Bars(out) if out.isatty() else Lines(out)
