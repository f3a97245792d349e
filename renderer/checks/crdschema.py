"""Custom resources against the CRD schemas of the operator release the clusters run (checks/crds/).

`crds/<operator>-<version>/<kind>-<group>-<version>.json` holds the `openAPIV3Schema` of each version
that release serves, extracted from the upstream CRD (see each folder's NOTICE). The API server
prunes fields a structural schema does not name; we refuse them instead, so a typo is an error
rather than a silently dropped setting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources

import jsonschema
import jsonschema_rs

from renderer.data import Json
from renderer.inputs.schema import reads_alike, says_valid

_NESTED = ("items", "additionalProperties", "not")
_LISTS = ("allOf", "anyOf", "oneOf")


@cache
def shipped(operator: str, version: str) -> frozenset[str] | None:
    """The schema files kept for one operator release; None when the renderer keeps none."""
    folder = resources.files("renderer.checks").joinpath(f"crds/{operator}-{version}")
    if not folder.is_dir():
        return None
    return frozenset(p.name for p in folder.iterdir() if p.name.endswith(".json"))


def schema_file(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{kind.lower()}-{group}-{version}.json"


@cache
def validator(operator: str, version: str, api_version: str, kind: str) -> jsonschema.Draft4Validator | None:
    """The release's schema for one served group/version/kind, compiled once; None if it serves none.

    OpenAPI v3.0 schemas are closest to JSON Schema draft 4 (boolean exclusiveMinimum)."""
    schema = _strict_schema(operator, version, api_version, kind)
    return None if schema is None else jsonschema.Draft4Validator(schema)


def valid_fast(operator: str, version: str, api_version: str, kind: str, obj: Json) -> bool:
    """Whether jsonschema-rs finds the object valid against the same schema (as
    `kubeschema._valid_fast`; its patterns are ECMA's, at most stricter on these schemas). Only a
    yes is trusted: anything else goes to `validator`, whose messages the report shows."""
    return says_valid(_fast(operator, version, api_version, kind), obj)


@cache
def _fast(operator: str, version: str, api_version: str, kind: str) -> jsonschema_rs.Draft4Validator | None:
    schema = _strict_schema(operator, version, api_version, kind)
    if schema is None or not reads_alike(schema):
        return None
    try:
        return jsonschema_rs.Draft4Validator(schema)
    except ValueError:  # a pattern ECMA-262 has no reading of (an inline flag): the reference alone
        return None


def _strict_schema(operator: str, version: str, api_version: str, kind: str) -> dict[str, Json] | None:
    name = schema_file(api_version, kind)
    if name not in (shipped(operator, version) or frozenset()):
        return None
    ref = resources.files("renderer.checks").joinpath(f"crds/{operator}-{version}/{name}")
    schema: Json = json.loads(ref.read_text("utf-8"))
    strict_schema = strict(schema)
    assert isinstance(strict_schema, Mapping), f"{name} is not a schema object"
    return dict(strict_schema)


def strict(schema: Json) -> Json:
    """Objects that name their fields admit no others, unless they keep unknown fields on purpose."""
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Json] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: strict(sub) for name, sub in value.items()}
        elif key in _NESTED:
            out[key] = strict(value)
        elif key in _LISTS and isinstance(value, list):
            out[key] = [strict(v) for v in value]
        else:
            out[key] = value
    keeps_unknown = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not keeps_unknown:
        out["additionalProperties"] = False
    return out
