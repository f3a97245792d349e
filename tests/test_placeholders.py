"""Table-driven: the placeholder grammar behaves as score-go's."""

from __future__ import annotations

from typing import Any

import pytest

from renderer.inputs.placeholders import RefError, expand, find_refs, lookup, split_ref, substitute
from renderer.model import SecretRef

CTX: dict[str, Any] = {
    "metadata": {"name": "web", "annotations": {"a.b/c": "dotted", "n": "x"}},
    "resources": {
        "db": {
            "host": "pg",
            "port": 5432,
            "cfg": {"x": [1, 2]},
            "flag": True,
            "password": SecretRef(key="password", path="p/db"),
        }
    },
}


def resolver(ref: str) -> Any:
    parts = split_ref(ref)
    if parts[0] not in CTX:
        raise RefError(f"invalid ref '{ref}': unknown reference root")
    return lookup(CTX[parts[0]], parts[1:], ref)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("${metadata.name}", "web"),
        ("a-${metadata.name}-b", "a-web-b"),
        ("$$", "$"),
        ("$$$$", "$$"),
        ("$${metadata.name}", "${metadata.name}"),
        ("$$${metadata.name}", "$web"),
        ("cost $5", "cost $5"),
        ("$(VAR) stays", "$(VAR) stays"),
        ("${resources.db.port}", "5432"),
        ("${resources.db.flag}", "true"),
        ("${resources.db.cfg}", '{"x":[1,2]}'),
        ("${resources.db.cfg.x}", "[1,2]"),
        ("${metadata.annotations.a\\.b/c}", "dotted"),
        ("trailing $", "trailing $"),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, resolver) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${metadata.missing}", "invalid ref 'metadata.missing': key 'missing' not found"),
        ("${resources.db.nope}", "invalid ref 'resources.db.nope': key 'nope' not found"),
        ("${resources.db.host.deeper}", "cannot lookup key 'deeper', context is not a map"),
        ("${nothing.here}", "unknown reference root"),
    ],
)
def test_substitute_errors(text: str, message: str) -> None:
    with pytest.raises(RefError, match=message.replace("(", r"\(").replace(")", r"\)")):
        substitute(text, resolver)


def test_secret_segments_are_kept_apart_from_text() -> None:
    parts = expand("u:${resources.db.password}@${resources.db.host}", resolver)
    assert parts == ["u:", SecretRef(key="password", path="p/db"), "@pg"]


def test_secret_where_no_secret_is_allowed() -> None:
    with pytest.raises(RefError, match="cannot be used here"):
        substitute("${resources.db.password}", resolver)


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("${a.b} and $${c.d} and ${e}", ["a.b", "e"]),
        ("$$", []),
        ("${}", [""]),
    ],
)
def test_find_refs(text: str, refs: list[str]) -> None:
    assert find_refs(text) == refs


def test_split_ref_escaped_dots() -> None:
    assert split_ref("metadata.annotations.my\\.key.x") == [
        "metadata",
        "annotations",
        "my.key",
        "x",
    ]


def test_expansion_is_bounded() -> None:
    """A 100 kB value repeated by placeholders cannot grow a string past what an object can hold."""
    long = "x" * 100_000
    assert len(substitute("${a}" * 10, lambda ref: long)) == 1_000_000
    with pytest.raises(RefError, match="expand it to more than 1048576 characters"):
        substitute("${a}" * 11, lambda ref: long)
