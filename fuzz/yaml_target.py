"""Fuzz target: yamlio.load_bytes returns plain documents or raises YamlLoadError, and what loads
dumps and loads back equal. Run through fuzz/run.sh, or: python fuzz/yaml_target.py [libFuzzer flags]"""

from __future__ import annotations

import math
import sys

import atheris

with atheris.instrument_imports(include=["renderer", "yaml"]):
    from renderer.errors import InputError
    from renderer.inputs import yamlio


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def plain(value: object) -> bool:
    if isinstance(value, dict):
        return all(type(k) is str and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


def test_one_input(data: bytes) -> None:
    try:
        docs = yamlio.load_bytes(data, "fuzz.yaml")
    except yamlio.YamlLoadError as exc:
        assert all(p.file == "fuzz.yaml" and p.line >= 0 for p in exc.problems()), exc.problems()
        return
    for doc in docs:
        assert plain(doc.data), doc.data  # an explicit `null` document is data too (None)
        assert all(line >= 1 for line in doc.lines.values()), doc.lines
        text = yamlio.dump(doc.data)
        try:
            again = yamlio.load_text(text, "dumped.yaml")
        except InputError as exc:
            raise AssertionError(f"dump() wrote YAML the reader refuses: {text!r}: {exc}") from None
        assert len(again) == 1 and same(again[0].data, doc.data), (doc.data, text)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
