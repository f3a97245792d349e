"""Policy sets on disk (`policies/<set>/`) → PolicySource values: Rego text, tests, data files."""

from __future__ import annotations

import os

from renderer.data import Json, deep_merge
from renderer.errors import Collector, InputError, Problem
from renderer.inputs.confine import read_file
from renderer.inputs.yamlio import load_json, load_text
from renderer.model import PolicySource


def read_source(directory: str, display: str = "") -> PolicySource:
    """Every .rego and data file below `directory`, in sorted order; InputError with every file that
    cannot be read. Problems name files as `display/<set>/…` (`display`: how `directory`'s parent
    is shown); the Rego files keep their names inside the parent, which the engine reports."""
    files: dict[str, str] = {}
    tests: dict[str, str] = {}
    data: dict[str, Json] = {}
    problems = Collector()
    for base, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, os.path.dirname(directory.rstrip("/")))
            shown = os.path.join(display, rel) if display else rel
            if not name.endswith((".rego", ".json", ".yaml", ".yml")):
                continue
            try:
                text = _read(path, shown)
                if name.endswith("_test.rego"):
                    tests[rel] = text
                elif name.endswith(".rego"):
                    files[rel] = text
                else:
                    loaded = _data(text, shown)
                    if isinstance(loaded, dict):
                        data = deep_merge(data, loaded)
            except InputError as exc:
                problems.extend(exc.problems())
    problems.raise_if_any()
    return PolicySource(files, tests, data)


def _data(text: str, name: str) -> Json:
    if name.endswith(".json"):
        return load_json(text, name)
    docs = load_text(text, name)
    return docs[0].data if docs else None


def _read(path: str, name: str) -> str:
    data = read_file(path, name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(name, 0, "", f"cannot read: {exc}")) from None
