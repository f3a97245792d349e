"""Properties of the YAML reader and dumper on hostile input: docs or YamlLoadError, and round trips."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from renderer.inputs import yamlio
from renderer.inputs.yamlio import DEFAULT_LIMITS, YamlLoadError, dump, load_bytes, load_text
from renderer.model import Limits
from tests.property.strategies import (
    SPECIAL_WORDS,
    any_text,
    assert_located,
    assert_plain,
    hostile_text,
    json_values,
    same,
)

MAX_DEPTH = DEFAULT_LIMITS.yaml_depth
MAX_NODES = DEFAULT_LIMITS.yaml_nodes

# Pieces of YAML syntax; random concatenations of them reach far more of the parser than random text.
YAML_TOKENS = [
    *SPECIAL_WORDS,
    *("a", "b", "1", "x: ", "- ", "? ", ": ", "  ", "    ", "\n", "\n  ", "\n- ", "\n---\n", "\n...\n"),
    *("[", "]", "{", "}", ", ", "&a ", "*a", "&b ", "*b", "<<: ", "<<: *a", "!!str ", "!!int ", "!!float "),
    *("!!binary ", "!!set ", "!!omap ", "!!map ", "!!seq ", "!!null ", "!!bool ", "!!timestamp ", "!x "),
    *("!<tag:yaml.org,2002:str> ", "%YAML 1.2\n---\n", "%YAML 1.1\n---\n", "%TAG !e! tag:e.com:\n---\n"),
    *("|\n  a\n", "|-\n  a\n", ">+\n  a\n", "|2\n   a\n", "'a''b'", '"\\x41"', '"\\ud800"', '"\\U0001F600"'),
    *('"\\N"', '"\\_"', '"\\0"', "# c\n", "2001-01-01", "2001-01-01T00:00:00Z", "0o17", ".inf"),
]
yaml_like = st.lists(st.sampled_from(YAML_TOKENS) | any_text, max_size=24).map("".join)


def _load_or_refuse(text: str) -> None:
    """load_text returns plain, located documents or raises YamlLoadError with located problems."""
    try:
        docs = load_text(text, "in.yaml")
    except YamlLoadError as exc:
        assert_located(exc.problems(), "in.yaml", kind="yaml")
        return
    for doc in docs:
        assert doc.file == "in.yaml"
        # an explicit `null` document is returned (a Score file of `~` is "not a mapping"); empty ones are not
        assert_plain(doc.data)
        assert all(line >= 1 for line in doc.lines.values()), doc.lines


@given(st.text(max_size=200))
@example("\x1f")
def test_any_text_loads_or_is_refused(text: str) -> None:
    _load_or_refuse(text)


@given(yaml_like)
@example("{[]: x}")
@example("!!binary aGk=: x")
@example("!!bool x")
@example("!!omap x")
@example("!!int")
@example("!!set x")
@example("!x [a]")
@example("[{}]: x")
@example("%YAML 1.0\n---\n")
@example("&a k: v\n")
def test_yaml_like_text_loads_or_is_refused(text: str) -> None:
    _load_or_refuse(text)


@given(st.binary(max_size=200) | yaml_like.map(lambda t: t.encode("utf-8", "surrogatepass")))
@example(b"-_")
def test_any_bytes_load_or_are_refused(data: bytes) -> None:
    try:
        docs = load_bytes(data, "in.yaml")
    except YamlLoadError as exc:
        assert_located(exc.problems(), "in.yaml", kind="yaml")
        return
    for doc in docs:
        assert_plain(doc.data)


@given(yaml_like)
@example('"\\ud800"')
@example("&a k: v\n")
def test_what_loads_dumps_and_loads_back_equal(text: str) -> None:
    """Whatever the reader accepts, the dumper writes as YAML the reader reads back the same."""
    try:
        docs = load_text(text, "in.yaml")
    except YamlLoadError:
        return
    for doc in docs:
        again = load_text(dump(doc.data), "out.yaml")
        assert len(again) == 1 and same(again[0].data, doc.data), (doc.data, dump(doc.data))


@given(json_values().filter(lambda v: v is not None))
@example("._5")
@example("-_")
@example("+0o7")
@example("-_1")
@example("x\u2028y\nz")
def test_dump_round_trip(value: object) -> None:
    """dump() of JSON data loads back equal; a top-level null is an empty document, hence excluded."""
    text = dump(value)
    docs = load_text(text, "out.yaml")
    assert len(docs) == 1, text
    assert same(docs[0].data, value), (value, text)
    assert dump(docs[0].data) == text  # deterministic: the same data, the same bytes


# Text near the edges of the direct writer's certain forms: indicators, `: `, ` #`, quotes, breaks.
_EDGY = st.text(alphabet=" -.:/_#'\"\n\tab01@$%()[]{},?!|>~=*&", max_size=12)


@given(json_values() | json_values(st.one_of(st.integers(), st.booleans(), st.none(), _EDGY)))
@example({"a": "x\ny\n", "b": ["", "0x1", 1.5, [], {}], "c": "multi\nline \nx", "d": {"é": " lead"}})
@example({"kind": "Deployment", "spec": {"containers": [{"command": ["sh", "-c", "a b"], "image": "r/a:1"}]}})
@example([[[1]], [["a", {"b": [1, "x\n\ny"]}]], {"k": ["-x", "./a", ".x", "a:b", "--", "-"]}])
def test_dump_writes_what_pyyaml_s_representer_would(value: object) -> None:
    """dump() writes most documents itself (for speed): the bytes are those of PyYAML's own
    representer and emitter with the same settings."""
    reference = yaml.dump(
        value,
        Dumper=yamlio._Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
        explicit_start=False,
    )
    assert dump(value) == reference


@given(
    st.dictionaries(
        (st.sampled_from(SPECIAL_WORDS) | hostile_text).filter(lambda k: "\x00" not in k),
        st.integers(),
        min_size=1,
    )
)
@example({"+0o7": 0})
@example({"-_": 0})
def test_special_words_as_keys_stay_strings(value: dict[str, int]) -> None:
    docs = load_text(dump(value), "out.yaml")
    assert same(docs[0].data, value)


# Deep flow nesting was slow in ruamel's scanner (see test_deep_flow_nesting_is_refused_quickly), so
# generated depths stay below the recursion limit; the explicit block example goes past it.
@given(st.integers(min_value=1, max_value=120), st.sampled_from(["flow", "block"]))
@example(MAX_DEPTH + 1, "flow")
@example(MAX_DEPTH, "block")
@example(3000, "block")
def test_nesting_is_read_or_refused_at_the_limit(depth: int, style: str) -> None:
    if style == "flow":
        text = "[" * depth + "]" * depth + "\n"
    else:
        text = "".join("  " * i + "-\n" for i in range(depth - 1)) + "  " * (depth - 1) + "- x\n"
    # The innermost node sits at path length depth - 1 (an empty flow list) or depth (the scalar x).
    limit = MAX_DEPTH + 1 if style == "flow" else MAX_DEPTH
    try:
        docs = load_text(text, "deep.yaml")
    except YamlLoadError as exc:
        assert_located(exc.problems(), "deep.yaml", kind="yaml")
        assert depth > limit, f"{depth} levels refused: {exc}"
        return
    assert depth <= limit, f"{depth} levels read"
    node, levels = docs[0].data, 0
    while isinstance(node, list) and node:
        node, levels = node[0], levels + 1
    assert levels == depth - (style == "flow")


def _laughs(fanout: int, levels: int) -> tuple[str, int]:
    """'Billion laughs': each level repeats the one before `fanout` times; and how many values that is."""
    lines = ["l0: &l0 x"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]")
    nodes = 1 + sum(sum(fanout**j for j in range(i + 1)) for i in range(levels + 1))
    return "\n".join(lines) + "\n", nodes


def _read_or_refused_at(budget: int, text: str, nodes: int, limits: Limits = DEFAULT_LIMITS) -> None:
    try:
        docs = load_text(text, "laughs.yaml", limits)
    except YamlLoadError as exc:
        assert_located(exc.problems(), "laughs.yaml", kind="yaml")
        assert nodes > budget, f"{nodes} values refused"
        assert f"more than {budget} values" in exc.problems()[0].message
        return
    assert nodes <= budget, f"{nodes} values read"
    assert docs[0].data["l0"] == "x"  # type: ignore[index]


# The real budget costs half a second per refusal; the property is checked against a small one.
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12))
def test_alias_expansion_is_bounded(fanout: int, levels: int) -> None:
    _read_or_refused_at(2000, *_laughs(fanout, levels), Limits(yaml_nodes=2000))


def test_alias_expansion_is_bounded_by_the_real_budget() -> None:
    _read_or_refused_at(MAX_NODES, *_laughs(9, 9))


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_deep_flow_nesting_is_refused_quickly() -> None:
    """1.5 KB of `[` is refused at once: a hostile file must not cost the run seconds per kilobyte.

    The limit is generous (reading it takes milliseconds when it is linear); fuzz/seeds/yaml/
    yaml-flow-nesting-slow.yaml is this input."""
    try:
        with _time_limit(3.0), pytest.raises(YamlLoadError, match="nested"):
            load_text("[" * 1500, "deep.yaml")
    except TimeoutError as exc:
        # Raised afresh: the alarm may land deep in the parser, and pytest cannot format that traceback.
        raise AssertionError(f"1500 '[' were not refused in time: {exc}") from None
