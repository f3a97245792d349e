"""Maintainer tool: upstream CRD YAML → the JSON schemas renderer/checks/crds/<operator>-<version>/ keeps.

    python -m tests.k8s.extract_crds renderer/checks/crds/<operator>-<version> <crd.yaml>...

Each served version of each CRD becomes `<kind>-<group>-<version>.json` (lowercase kind): its
`openAPIV3Schema` with the `description` keywords removed (they are most of the bytes), nothing else
changed. Versions a release no longer serves are left out: an object on one is "not served".
Record where the YAML came from in the folder's NOTICE.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from renderer.data import Json

_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def strip(schema: Json) -> Json:
    """A schema without `description` keywords (a property *named* description stays)."""
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Json] = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: strip(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = strip(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strip(v) for v in value]
        else:
            out[key] = value
    return out


def extract(crd: Mapping[str, Json]) -> dict[str, Json]:
    spec = crd["spec"]
    assert isinstance(spec, Mapping)
    names, group, versions = spec["names"], spec["group"], spec["versions"]
    assert isinstance(names, Mapping) and isinstance(versions, list)
    out: dict[str, Json] = {}
    for version in versions:
        assert isinstance(version, Mapping)
        if not version.get("served"):
            continue
        schema = version["schema"]
        assert isinstance(schema, Mapping)
        name = f"{str(names['kind']).lower()}-{group}-{version['name']}.json"
        out[name] = strip(schema["openAPIV3Schema"])
    return out


def main(out_dir: str, *files: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for file in files:
        for doc in yaml.safe_load_all(Path(file).read_text()):
            if isinstance(doc, Mapping) and doc.get("kind") == "CustomResourceDefinition":
                for name, schema in extract(doc).items():
                    (out / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
