"""The rendered Backstage catalog against the entity rules Backstage's catalog enforces.

Our own JSON Schema, written from Backstage's published entity schemas (packages/catalog-model:
Entity, EntityMeta, System/Component/Resource v1alpha1) and its validators for names, namespaces,
label and annotation keys and entity references. Only the kinds and fields the renderer writes are
admitted: an unknown field is our bug, caught before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import jsonschema
import jsonschema_rs

from renderer.data import Json
from renderer.errors import Problem
from renderer.inputs.schema import says_valid

_NAME = r"^[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*$"  # 1-63 characters
_NAMESPACE = r"^[a-z0-9]+(-[a-z0-9]+)*$"  # 1-63 characters
_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*$"
)
_REF = (
    r"^[A-Za-z][A-Za-z0-9]*:[a-z0-9]+(-[a-z0-9]+)*/[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*$"  # kind:namespace/name
)


def _string(pattern: str | None = None, max_length: int | None = None) -> dict[str, Json]:
    out: dict[str, Json] = {"type": "string", "minLength": 1}
    if pattern:
        out["pattern"] = pattern
    if max_length:
        out["maxLength"] = max_length
    return out


def _map(values: Mapping[str, Json]) -> dict[str, Json]:
    return {"type": "object", "propertyNames": _string(_KEY, 253), "additionalProperties": dict(values)}


_REFS: dict[str, Json] = {"type": "array", "items": _string(_REF), "uniqueItems": True}
_META: dict[str, Json] = {
    "type": "object",
    "required": ["name", "namespace"],
    "additionalProperties": False,
    "properties": {
        "name": _string(_NAME, 63),
        "namespace": _string(_NAMESPACE, 63),
        "title": _string(),
        "description": {"type": "string"},
        "labels": _map(_string(_NAME, 63)),
        "annotations": _map({"type": "string"}),
    },
}


def _kind(kind: str, required: Sequence[str], spec: Mapping[str, Json]) -> dict[str, Json]:
    return {
        "if": {"properties": {"kind": {"const": kind}}},
        "then": {
            "properties": {
                "spec": {
                    "type": "object",
                    "required": list(required),
                    "additionalProperties": False,
                    "properties": dict(spec),
                }
            }
        },
    }


_OWNER, _SYSTEM = _string(_REF), _string(_REF)
SCHEMA: dict[str, Json] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"enum": ["backstage.io/v1alpha1", "backstage.io/v1beta1"]},
        "kind": {"enum": ["System", "Component", "Resource"]},
        "metadata": _META,
        "spec": {"type": "object"},
    },
    "allOf": [
        _kind("System", ["owner"], {"owner": _OWNER, "domain": _string(_REF)}),
        _kind(
            "Component",
            ["type", "lifecycle", "owner"],
            {
                "type": _string(),
                "lifecycle": _string(),
                "owner": _OWNER,
                "system": _SYSTEM,
                "dependsOn": _REFS,
            },
        ),
        _kind(
            "Resource",
            ["type", "owner"],
            {"type": _string(), "owner": _OWNER, "system": _SYSTEM, "dependsOn": _REFS},
        ),
    ],
}


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMA)


@cache
def _fast() -> jsonschema_rs.Validator:
    """The same schema in jsonschema-rs, which only says "valid" (as `inputs/schema.py`'s fast path:
    its patterns are ECMA's, and these use ASCII classes and `$`, so it is at most stricter);
    whatever it refuses, `_validator` checks again and words."""
    return jsonschema_rs.validator_for(SCHEMA)


def check_catalog(files: Mapping[str, Sequence[Json]]) -> list[Problem]:
    """Every entity of every catalog file (path → its entities, in order); references are checked to
    name an entity of the same files or a team's Group, as Backstage would show them resolved."""
    problems: list[Problem] = []
    known = {_ref_of(e) for entities in files.values() for e in entities if isinstance(e, Mapping)}
    first: dict[str, str] = {}  # an entity's ref → where it is defined first
    for path, entities in sorted(files.items()):
        for i, entity in enumerate(entities):
            ref = _ref_of(entity) if isinstance(entity, Mapping) else ""
            if ref in first:  # Backstage keeps one of them and reports the other as a conflict
                why = f"{ref} is defined twice (also at {first[ref]})"
                why += "; rename the app, workload or resource of one"
                problems.append(Problem(path, 0, f"{i}.metadata.name", why))
            elif ref:
                first[ref] = f"{path} entity {i}"
            errors = () if says_valid(_fast(), entity) else _validator().iter_errors(entity)
            for error in sorted(errors, key=lambda e: list(e.absolute_path)):
                where = ".".join(str(p) for p in (i, *error.absolute_path))
                problems.append(Problem(path, 0, where, f"not a valid Backstage entity: {error.message}"))
            problems += _dangling(path, i, entity, known)
    return problems


def _ref_of(entity: Mapping[str, Json]) -> str:
    meta = entity.get("metadata")
    if not isinstance(meta, Mapping):
        return ""
    return f"{str(entity.get('kind')).lower()}:{meta.get('namespace')}/{meta.get('name')}"


def _dangling(path: str, i: int, entity: Json, known: set[str]) -> list[Problem]:
    spec = entity.get("spec") if isinstance(entity, Mapping) else None
    if not isinstance(spec, Mapping):
        return []
    refs = [("system", spec.get("system"))]
    depends = spec.get("dependsOn")
    refs += [(f"dependsOn.{n}", r) for n, r in enumerate(depends)] if isinstance(depends, Sequence) else []
    return [
        Problem(path, 0, f"{i}.spec.{where}", f"{ref} names no entity of the rendered catalog")
        for where, ref in refs
        if isinstance(ref, str) and ref not in known
    ]
