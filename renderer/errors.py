"""One exception family; each category maps to one exit code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_POLICY = 4
EXIT_PUBLISH = 5
EXIT_INTERNAL = 70  # a bug: the CLI's boundary reports it in one line and keeps the trace in a file


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with one input, located as precisely as we can."""

    file: str
    line: int
    path: str
    message: str
    hint: str = ""

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" at {self.path}" if self.path else ""
        text = f"{where}{at}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class RendererError(Exception):
    """Base of every error a user can act on; a bug is anything else."""

    exit_code = EXIT_INVALID

    def problems(self) -> list[Problem]:
        return []

    def summary(self) -> str:
        """The error in one line: shown after its problems, or alone when it has none."""
        return str(self)


class UsageError(RendererError):
    exit_code = EXIT_USAGE


class InputError(RendererError):
    """Every problem found in the inputs, sorted by file and line.

    Stages raise it with one problem where they stop (a template that fails, a file that is not
    YAML) and collect those into one InputError with all of them (`Collector`)."""

    exit_code = EXIT_INVALID

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self._problems = sorted(set(problems if isinstance(problems, list) else [problems]))
        super().__init__("\n".join(p.render() for p in self._problems))

    def __reduce__(self) -> tuple[type[InputError], tuple[list[Problem]]]:
        return (type(self), (self._problems,))  # crosses process boundaries whole

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def summary(self) -> str:
        return f"{len(self._problems)} problem(s) found"  # its message is the problems themselves


class PolicyDenied(RendererError):
    """Checks failed; `problems` name the rendered file, the object and the rule."""

    exit_code = EXIT_POLICY

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self._problems = list(problems or [])

    def problems(self) -> list[Problem]:
        return list(self._problems)


class AccessDenied(RendererError):
    """An input asks for something its owner may not have: another app's name, a platform-only
    resource, a reserved name. Exit code of a policy denial: the input is valid, the answer is no."""

    exit_code = EXIT_POLICY


class PublishError(RendererError):
    exit_code = EXIT_PUBLISH


class Collector:
    """Gathers problems across a stage so a run fails once with all of them."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, file: str, line: int, path: str, message: str, hint: str = "") -> None:
        self.items.append(Problem(file, line, path, message, hint))

    def extend(self, problems: list[Problem]) -> None:
        self.items.extend(problems)

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.items)


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by `***`, longest first (one may contain another)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
