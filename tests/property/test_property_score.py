"""Properties of Score validation on hostile apps: InputError with located problems, nothing else."""

from __future__ import annotations

import copy
import functools
import sys
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from renderer.errors import InputError, RendererError
from renderer.inputs.yamlio import dump, load_text
from renderer.model import Limits
from tests.property.strategies import VALID_SCORE, hostile_text, json_scalars, json_values, load_app

VALID = {path.name: path.read_bytes() for path in VALID_SCORE}
SOURCES = {"extra.conf": b"x", "mime.extra": b"x", "from-disk.txt": b"x"}  # the examples' `source:` files
SCORE_WORDS = [
    *("apiVersion", "score.dev/v1b1", "metadata", "name", "annotations", "containers", "image"),
    *("command", "args", "variables", "files", "volumes", "resources", "limits", "requests", "cpu"),
    *("memory", "livenessProbe", "readinessProbe", "httpGet", "exec", "port", "path", "scheme"),
    *("service", "ports", "targetPort", "protocol", "TCP", "type", "class", "id", "params", "before"),
    *("ready", "complete", "started", "healthy", "content", "binaryContent", "source", "noExpand"),
    *("mode", "readOnly", "read_only", "target", "/etc/x", "x", "../x", "${metadata.name}"),
    *("${resources.db}", "${resources.db.host}", "$${x}", "${", "0644", "1500m", "256Mi", "web"),
]
score_text = st.sampled_from(SCORE_WORDS) | hostile_text
score_values = json_values(st.sampled_from(SCORE_WORDS) | json_scalars)


def _mapping_paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in `data` that leads to a value (the root included)."""
    out = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _mapping_paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _mapping_paths(value, (*path, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, data: Any) -> Any:
    """`data` with one to four edits: a value replaced or deleted, a key added or renamed."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _mapping_paths(data)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add", "rename"]))
        if action == "replace":
            parent[path[-1]] = draw(score_values)
        elif action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(score_text)] = draw(score_values)
        elif action == "add":
            parent.insert(path[-1], draw(score_values))
        elif isinstance(parent, dict):
            parent[draw(score_text)] = parent.pop(path[-1])
    return data


@functools.cache
def _valid_data(name: str) -> Any:
    return load_text(VALID[name].decode("utf-8"), name)[0].data


valid_names = st.sampled_from(sorted(VALID))


def _must_load_or_refuse(files: dict[str, bytes]) -> None:
    """The loader returns apps or raises an InputError whose problems name a file and a line."""
    result = load_app(files)
    if isinstance(result, RendererError):
        assert isinstance(result, InputError), f"{type(result).__name__}: {result}"


def test_valid_examples_load() -> None:
    for name, data in VALID.items():
        result = load_app({"score.yaml": data, **SOURCES})
        assert not isinstance(result, RendererError), f"{name}: {result}"


@given(st.dictionaries(score_text, score_values, max_size=6))
@example({"apiVersion": "-_"})
def test_any_document_is_valid_or_refused(doc: dict[str, Any]) -> None:
    _must_load_or_refuse({"score.yaml": dump(doc).encode("utf-8")})


MINIMAL = {"apiVersion": "score.dev/v1b1", "metadata": {"name": "x"}, "containers": {"x": {"image": "x"}}}


@given(valid_names.flatmap(lambda name: mutated(_valid_data(name))))
@example({**MINIMAL, "metadata": {"name": "x", "labels": {"a": "-_"}}})
def test_mutated_score_is_valid_or_refused(doc: Any) -> None:
    _must_load_or_refuse({"score.yaml": dump(doc).encode("utf-8"), **SOURCES})


text_edits = st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 8), st.sampled_from(SCORE_WORDS)))


@given(valid_names, text_edits)
def test_mutated_score_text_is_valid_or_refused(name: str, edits: list[tuple[int, int, str]]) -> None:
    """Edits of the file's text: a span replaced by a Score word (indentation and syntax break too)."""
    text = VALID[name].decode("utf-8")
    for at, length, word in edits:
        at %= len(text) + 1
        text = text[:at] + word + text[at + length :]
    _must_load_or_refuse({"score.yaml": text.encode("utf-8"), **SOURCES})


@given(valid_names.flatmap(lambda name: st.tuples(st.just(name), mutated(_valid_data(name)))))
@example(("minimal.yaml", {"metadata": {"labels": {"a": "-_"}}}))
def test_override_is_applied_or_refused(case: tuple[str, Any]) -> None:
    """An environment's merge patch (a mutated copy of the workload) is merged and checked again."""
    name, patch = case
    workload = _valid_data(name)["metadata"]["name"]
    patch_bytes = dump(patch if isinstance(patch, dict) else {"x": patch}).encode("utf-8")
    files = {"score.yaml": VALID[name], f"overrides/dev/{workload}.yaml": patch_bytes}
    _must_load_or_refuse({**files, **SOURCES})


def _chain(containers: int, closed: bool) -> dict[str, Any]:
    """Containers c0 … cN, each starting before the next; `closed` adds cN → c0 (a cycle)."""
    names = [f"c{i}" for i in range(containers)]
    spec: dict[str, Any] = {name: {"image": "busybox"} for name in names}
    for first, then in zip(names, names[1:] + names[:1] if closed else names[1:], strict=False):
        spec[first]["before"] = {then: {"ready": "started"}}
    return {"apiVersion": "score.dev/v1b1", "metadata": {"name": "chain"}, "containers": spec}


# Generated chains stay short (a long one takes seconds to validate), and fewer are enough.
@settings(max_examples=max(10, settings.default.max_examples // 2))
@given(st.integers(min_value=1, max_value=30), st.booleans())
def test_before_chains_are_valid_and_rings_are_cycles(containers: int, closed: bool) -> None:
    _check_chain(containers, closed)


def test_a_before_chain_longer_than_the_recursion_limit() -> None:
    """Outside @given: Hypothesis raises the recursion limit while it runs a test, the CLI does not.

    fuzz/seeds/score/score-before-chain-recursion.yaml is such a workload."""
    _check_chain(sys.getrecursionlimit() + 10, closed=False)


def _check_chain(containers: int, closed: bool) -> None:
    """A long `before` chain is a valid workload; closed into a ring it is one cycle problem."""
    many = Limits(containers=containers + 1)  # the default limit (20) would refuse a long chain first
    result = load_app({"score.yaml": dump(_chain(containers, closed)).encode("utf-8")}, many)
    if closed and containers > 1:
        assert isinstance(result, InputError), result
        assert [p.message for p in result.problems()][0].startswith("the 'before' entries form a cycle")
    elif closed:
        assert isinstance(result, InputError) and "lists itself in 'before'" in str(result)
    else:
        assert not isinstance(result, RendererError), result
