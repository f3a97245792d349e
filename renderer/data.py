"""Plain data as the renderer carries it: JSON values, YAML documents with the line of every key, paths."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from renderer.errors import Problem

# Plain data as JSON and YAML carry it. The containers are spelled `Sequence` and `Mapping`, not
# `list` and `dict`, so that building Json is painless: the read-only types are covariant, and a
# `dict[str, str]` or `list[dict[str, int]]` built anywhere already is Json, with no annotation or
# copy (`dict[str, Json]` would refuse a `dict[str, str]`: dict is invariant in its values). At run
# time they are plain dicts and lists; code that changes one builds a new dict. Read an object by
# narrowing with `isinstance(value, Mapping)` (`isinstance(value, dict)` would lose the value type).
Json: TypeAlias = None | bool | int | float | str | Sequence["Json"] | Mapping[str, "Json"]


# A Kubernetes object as the renderer builds it: a dict it may still fill, Json inside. Parts of
# objects (a container, a volume) and other documents (Terraform) are plain `dict[str, Json]`.
KubeObject: TypeAlias = dict[str, Json]


def blob_id(data: bytes, sha256: bool = False) -> str:
    """git's object id of a file with these bytes (`git hash-object`): SHA-1, or SHA-256 in a
    repository of that object format."""
    digest = hashlib.sha256() if sha256 else hashlib.sha1()
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def json_object(value: Json) -> Mapping[str, Json]:
    """`value` when it is a JSON object; an empty one for an absent (None) section."""
    return value if isinstance(value, Mapping) else {}


def object_name(obj: Mapping[str, Json]) -> str:
    """A Kubernetes object's `metadata.name`, as text."""
    return str(json_object(obj.get("metadata")).get("name"))


PathKey = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """`containers.web.files["/etc/app.conf"].mode` style, readable and unambiguous."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


@dataclass(frozen=True, slots=True)
class Doc:
    """One YAML document as plain data, with the line of every key and list item."""

    file: str
    data: Json
    lines: Mapping[PathKey, int] = field(default_factory=dict)
    # An override merged onto this document: problems under paths it sets point into it.
    overlay: Doc | None = None

    def line(self, path: Sequence[str | int]) -> int:
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)

    def problem(self, path: Sequence[str | int], message: str, hint: str = "") -> Problem:
        if self.overlay is not None:
            key = tuple(path)
            while key and key not in self.overlay.lines:
                key = key[:-1]
            if key:
                return self.overlay.problem(path, message, hint)
        return Problem(self.file, self.line(path), format_path(path), message, hint)


def as_json(value: object) -> Json:
    """Plain data seen as Json, checked on the way (a copy).

    A TypedDict such as WorkloadSpec is Json at run time, but the type system knows it only as a
    `Mapping[str, object]`; this is how it becomes Json without a cast."""
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"not JSON data: {type(value).__name__}")  # a bug: loaded data is plain


def walk(data: object, path: PathKey = ()) -> Iterator[tuple[PathKey, object]]:
    """Every (path, value) in a plain data tree (Json, a WorkloadSpec), depth first, in key order."""
    yield path, data
    if isinstance(data, dict):
        for key in sorted(data):
            yield from walk(data[key], (*path, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from walk(item, (*path, i))


def deep_merge(a: Mapping[str, Json], b: Mapping[str, Json]) -> dict[str, Json]:
    """Maps merge key by key, recursively; anything else from `b` wins (conftest's --data)."""
    out = dict(a)
    for key, value in b.items():
        current = out.get(key)
        out[key] = (
            deep_merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
        )
    return out
