"""`writer.owned_among` (prefixes looked up in the sorted paths) agrees with `writer.owned` tested
on every path, whatever the paths and prefixes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.publish import writer

PART = st.sampled_from(["a", "b", "ab", "a.b", "_shared", "é", "a-b", "kustomization.yaml"])
PATH = st.lists(PART, min_size=1, max_size=4).map("/".join)
PREFIX = st.tuples(st.sampled_from(["", "!"]), PATH, st.sampled_from(["", "/"])).map("".join)


@settings(max_examples=400, deadline=None)
@given(paths=st.sets(PATH, max_size=40), prefixes=st.lists(PREFIX, max_size=8))
def test_owned_among_is_owned_of_each_path(paths: set[str], prefixes: list[str]) -> None:
    expected = {p for p in paths if writer.owned(p, prefixes)}
    assert writer.owned_among(paths, prefixes) == expected
    assert writer.owned_among(sorted(paths), prefixes) == expected
