"""Strategies and checks the property tests share: hostile strings, JSON values, app folders."""

from __future__ import annotations

import math
import os
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path

from hypothesis import strategies as st

from renderer.errors import InputError, Problem, RendererError
from renderer.inputs.app_repo import load_apps
from renderer.inputs.yamlio import DEFAULT_LIMITS
from renderer.model import App, Limits

ROOT = Path(__file__).resolve().parents[2]
VALID_SCORE = sorted((ROOT / "tests" / "cases" / "score" / "valid").glob("*.yaml"))

# Words a YAML 1.1 or 1.2 reader may take for something other than a string, and characters that
# YAML treats specially (indicators, line breaks YAML 1.1 knows, a byte-order mark, NUL).
SPECIAL_WORDS = [
    *("yes", "no", "Yes", "NO", "on", "off", "On", "OFF", "y", "n", "Y", "N"),
    *("true", "false", "True", "FALSE", "null", "Null", "NULL", "~", "", "=", "<<"),
    *("0", "-0", "+1", "-_", "+_", "0777", "0o17", "+0o7", "0O7", "0x1F", "-0x1F", "0b101", "1_000", "1__0"),
    *("1e3", "1E+3", "-1.5e-3", "1.", ".5", "._5", "+.5", ".e1", "1:20", "190:20:30.15"),
    *(".inf", "-.inf", "+.INF", ".Inf", ".nan", ".NaN", "NaN", "inf"),
    *("2001-01-01", "2001-1-1", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5"),
    *("-", "?", ":", "- a", "? a", "a: b", "a #b", "#", "&a", "*a", "!x", "!!str", "%YAML 1.1"),
    *("---", "...", "|", ">", "'", '"', "[", "]", "{", "}", ",", "`", "@", "\\"),
    *(" ", "\t", "\n", "\r", "\r\n", "\x00", "\x85", "\u2028", "\u2029", "\ufeff", "\x1b", "\x7f"),
]

# Text as JSON and Python have it, surrogates excluded (they cannot be written as UTF-8 at all).
# Data text: no input may carry a NUL (the reader refuses it), so no data the renderer writes does;
# hostile_text below still sends NULs at the reader.
any_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
hostile_text = st.one_of(
    st.sampled_from(SPECIAL_WORDS),
    any_text,
    st.lists(st.one_of(st.sampled_from(SPECIAL_WORDS), any_text), max_size=4).map("".join),
    st.from_regex(r"[-+]?[0-9._xXoObB]{0,6}([eE][-+]?[0-9_]{0,3})?", fullmatch=True),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=False, allow_infinity=False),  # the reader refuses both: JSON cannot hold them
    data_text := hostile_text.filter(lambda t: "\x00" not in t),  # data never holds a NUL: no input may
)


def json_values(scalars: st.SearchStrategy[object] = json_scalars) -> st.SearchStrategy[object]:
    """Nested JSON data: lists and string-keyed maps of `scalars`, small enough for the loader."""
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(data_text, inner, max_size=4),
        max_leaves=20,
    )


def same(a: object, b: object) -> bool:
    """Equality of plain data with NaN equal to itself and bool told from int."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def assert_plain(value: object) -> None:
    """`value` is JSON data: None, bool, int, float, str, lists, and maps with string keys."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"key {key!r} is a {type(key).__name__}, not a str"
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or type(value) in (bool, int, float, str), f"{value!r} is not plain data"


def assert_located(problems: list[Problem], file_prefix: str = "", kind="yaml") -> None:
    """Every problem names a file (under `file_prefix`), a line ≥ 0 and a message."""
    assert problems, "an InputError without problems"
    for problem in problems:
        assert isinstance(problem.file, str) and problem.file, problem
        assert problem.file.startswith(file_prefix), problem
        assert isinstance(problem.line, int) and problem.line >= 0, problem
        assert isinstance(problem.path, str), problem
        assert problem.message, problem


def _tail(exc: BaseException, frames: int = 3) -> list[traceback.FrameSummary]:
    return traceback.extract_tb(exc.__traceback__)[-frames:]


def load_app(files: Mapping[str, bytes], limits: Limits = DEFAULT_LIMITS) -> tuple[App, ...] | RendererError:
    """Write an app folder `app/` with `files` into a fresh temp dir and load it.

    Returns the apps, or the RendererError the loader raised; anything else propagates (a bug)."""
    with tempfile.TemporaryDirectory(prefix="renderer-prop-") as root:
        app = os.path.join(root, "app")
        os.mkdir(app)
        for rel, data in files.items():
            path = os.path.join(app, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        try:
            return load_apps([app], root, limits=limits)
        except RecursionError as exc:
            # Re-raised short: pytest cannot format a traceback a thousand frames deep (INTERNALERROR).
            where = "; ".join(f"{f.name} ({os.path.basename(f.filename)}:{f.lineno})" for f in _tail(exc))
            raise AssertionError(f"RecursionError in the loader, at {where}") from None
        except RendererError as exc:
            if isinstance(exc, InputError):
                assert_located(exc.problems(), "app", kind="yaml")
            return exc
