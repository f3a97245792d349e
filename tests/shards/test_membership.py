"""Which shard renders which app: a hash of its id, stable as apps come and go."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer.errors import InputError, UsageError
from renderer.inputs import yamlio
from renderer.inputs.yamlio import YamlLoadError
from renderer.publish import shard_manifest, shards

IDS = [f"team-{i:04d}" for i in range(400)]


@pytest.mark.parametrize("total", [1, 2, 3, 7])
def test_every_app_is_in_exactly_one_shard(total: int) -> None:
    for app in IDS:
        assert sum(shards.member(app, i, total) for i in range(1, total + 1)) == 1


def test_shards_are_balanced_and_do_not_depend_on_the_list() -> None:
    sizes = [sum(shards.member(a, i, 4) for a in IDS) for i in range(1, 5)]
    assert min(sizes) > 70  # 100 each on average
    first = {a: [i for i in range(1, 5) if shards.member(a, i, 4)] for a in IDS[:10]}
    assert first == {a: [i for i in range(1, 5) if shards.member(a, i, 4)] for a in reversed(IDS[:10])}


@pytest.mark.parametrize("spec", ["0/2", "3/2", "1", "a/b", "1/999", "-1/2"])
def test_a_bad_shard_spec_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError, match=r"expected I/N with 1 ≤ I ≤ N ≤ 256"):
        shards.parse_spec(spec)


def test_the_ci_variables_parse() -> None:
    assert shards.parse_spec("2/3") == (2, 3)


def test_json_nested_past_the_parsers_depth_is_refused_as_input(tmp_path: Path) -> None:
    """A manifest (or any JSON the renderer reads) nested a million levels deep is bad input with
    a clear problem, not an internal error."""
    deep = "[" * 1_000_000
    (tmp_path / "shard-1-of-1.json").write_text(deep)
    with pytest.raises(InputError) as err:
        shard_manifest.read_manifests(str(tmp_path))
    assert err.value.problems()[0].message == "not JSON: nested too deeply"
    with pytest.raises(YamlLoadError) as loaded:
        yamlio.load_json(deep, "deep.json")
    assert "nested too deeply" in loaded.value.problems()[0].message
