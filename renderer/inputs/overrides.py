"""Per-environment overrides: RFC 7386 JSON Merge Patch of a workload."""

from __future__ import annotations

from collections.abc import Mapping

from renderer.data import Json


def merge_patch(target: Json, patch: Json) -> Json:
    """Apply a JSON Merge Patch; `null` deletes a key, lists and scalars replace wholesale."""
    if not isinstance(patch, Mapping):
        return patch
    return merge_patch_object(target if isinstance(target, Mapping) else {}, patch)


def merge_patch_object(target: Mapping[str, Json], patch: Mapping[str, Json]) -> dict[str, Json]:
    """The object case on its own, typed as one: an object patched stays an object."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
