"""The Rego engine behind a small interface; regorus (PyPI gordon-to-regorus) implements it.

Chosen by measurement (see docs/decisions.md): regopy mis-evaluated v0 rules and crashed on
`with`; regorus passes our conformance suite (tests/test_policy.py) at well under 1 ms a document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

from renderer.data import Json
from renderer.errors import RendererError


class PolicyLoadError(RendererError):
    """A policy that does not parse or cannot be evaluated; the message names file and line."""


class PolicyEvalError(PolicyLoadError):
    """A policy that compiles but fails on the document it is given (a builtin given the wrong type,
    a division by zero); the message is one line: `file:line:col: error`."""


def _first_lines(text: str) -> str:
    """regorus appends a native backtrace; the Rego error is what precedes it."""
    head = text.strip().split("Stack backtrace:")[0].strip()
    return " ".join(line.strip() for line in head.splitlines() if line.strip() and line.strip() != "|")


def _eval_message(text: str) -> str:
    """`file:line:col: error` from regorus' report (`--> file:line:col`, the source line, `error: …`)."""
    lines = [line.strip() for line in text.split("Stack backtrace:")[0].splitlines()]
    where = next((line[3:].strip() for line in lines if line.startswith("-->")), "")
    error = next((line[6:].strip() for line in lines if line.startswith("error:")), "")
    return f"{where}: {error}" if where and error else _first_lines(text)


class Engine(Protocol):
    def add_policy(self, name: str, text: str) -> str: ...
    def add_data(self, data: Mapping[str, Json]) -> None: ...
    def packages(self) -> list[str]: ...
    def evaluate(self, query: str, input_doc: Json) -> Json: ...


class Regorus:
    """Rego v1 first, v0 when a file only parses as v0 (conftest's `deny[msg] {…}` style)."""

    def __init__(self) -> None:
        import regorus

        self._engine = regorus.Engine()
        self._packages: list[str] = []

    def add_policy(self, name: str, text: str) -> str:
        errors = []
        for v0 in (False, True):
            self._engine.set_rego_v0(v0)
            try:
                package = str(self._engine.add_policy(name, text))
            except Exception as exc:  # regorus raises plain exceptions with the parse error
                errors.append(_first_lines(str(exc)) or repr(exc))
                continue
            self._packages.append(package)
            return package
        raise PolicyLoadError(f"{name}: not valid Rego (v1: {errors[0]}; v0: {errors[-1]})")

    def add_data(self, data: Mapping[str, Json]) -> None:
        self._engine.add_data_json(json.dumps(data))

    def packages(self) -> list[str]:
        return sorted(set(self._packages))

    def evaluate(self, query: str, input_doc: Json) -> Json:
        self._engine.set_input_json(json.dumps(input_doc))
        try:
            result = json.loads(self._engine.eval_query_as_json(query))
        except RuntimeError as exc:
            raise PolicyEvalError(_eval_message(str(exc))) from None
        rows = result.get("result") or []
        if not rows:
            return None
        value: Json = rows[0]["expressions"][0]["value"]  # the engine's JSON answer
        return value
