"""Policy sets on disk (`policies/<set>/`) → PolicySource values: Rego text, tests, data files."""

from __future__ import annotations

import json
import os

from renderer.data import Json, deep_merge
from renderer.errors import InputError, Problem
from renderer.inputs.yamlio import load_text
from renderer.model import PolicySource


def read_source(directory: str, display: str = "") -> PolicySource:
    """Every .rego and data file below `directory`, in sorted order."""
    files: dict[str, str] = {}
    tests: dict[str, str] = {}
    data: dict[str, Json] = {}
    for base, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, os.path.dirname(directory.rstrip("/")))
            if name.endswith("_test.rego"):
                tests[rel] = _read(path, rel)
            elif name.endswith(".rego"):
                files[rel] = _read(path, rel)
            elif name.endswith((".json", ".yaml", ".yml")):
                loaded = _data(_read(path, rel), os.path.join(display, rel) if display else rel)
                if isinstance(loaded, dict):
                    data = deep_merge(data, loaded)
    return PolicySource(files, tests, data)


def _data(text: str, name: str) -> Json:
    if name.endswith(".json"):
        try:
            data: Json = json.loads(text)
        except ValueError as exc:
            raise InputError(Problem(name, 0, "", f"not valid JSON: {exc}")) from None
        return data
    docs = load_text(text, name)
    return docs[0].data if docs else None


def _read(path: str, name: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(name, 0, "", f"cannot read: {exc}")) from None
