"""One exception family; each category maps to one exit code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

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
    kind: str = ""  # one of KINDS; the stage that found it sets it (`of_kind`)

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" at {self.path}" if self.path else ""
        label = f"{self.kind}: " if self.kind else ""  # first, so a reader sees whose move it is
        text = f"{label}{where}{at}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


# What kind of problem it is, so a user knows whose move it is:
KINDS = (
    "yaml",  # the file is not YAML we read (syntax, encoding, duplicate keys, tags, sizes)
    "spec",  # against the Score specification, as score-go decides (schema and Score semantics)
    "platform",  # the platform says no: matching, params, outputs, profiles, limits, confinement, names
    "policy",  # a policy denies (or warns), or the secret scan found credentials
    "schema",  # a rendered object against its Kubernetes (or custom resource) schema
)


def of_kind(problems: Sequence[Problem], kind: str) -> list[Problem]:
    """Each problem with `kind` unless the place that found it already said which kind it is."""
    return [p if p.kind else replace(p, kind=kind) for p in problems]


def count_by_kind(problems: Sequence[Problem]) -> str:
    """'3 problem(s) found (2 spec, 1 platform)'."""
    counts = Counter(p.kind for p in problems if p.kind)
    kinds = ", ".join(f"{counts[k]} {k}" for k in KINDS if counts[k])
    return f"{len(problems)} problem(s) found" + (f" ({kinds})" if kinds else "")


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
    kind = ""  # a subclass for one kind of problem labels those not labelled where they were found

    def __init__(self, problems: list[Problem] | Problem) -> None:
        found = problems if isinstance(problems, list) else [problems]
        self._problems = sorted(set(of_kind(found, self.kind) if self.kind else found))
        super().__init__("\n".join(p.render() for p in self._problems))

    def __reduce__(self) -> tuple[type[InputError], tuple[list[Problem]]]:
        return (type(self), (self._problems,))  # crosses process boundaries whole

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def summary(self) -> str:
        return count_by_kind(self._problems)  # its message is the problems themselves


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

    def __init__(self, kind: str = "") -> None:
        self.items: list[Problem] = []
        self.kind = kind  # the stage's kind of problem, for those not labelled where they were found

    def add(self, file: str, line: int, path: str, message: str, hint: str = "", kind: str = "") -> None:
        self.items.append(Problem(file, line, path, message, hint, kind))

    def extend(self, problems: list[Problem]) -> None:
        self.items.extend(problems)

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(of_kind(self.items, self.kind) if self.kind else self.items)


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by `***`, longest first (one may contain another)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
