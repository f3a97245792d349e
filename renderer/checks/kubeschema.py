"""Every rendered Kubernetes object against the schema of the environment's Kubernetes version."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

from renderer.data import Json, json_object
from renderer.errors import Problem


@dataclass(slots=True)
class SchemaReport:
    checked: int = 0
    unchecked: dict[str, int] = field(default_factory=dict)  # apiVersion/kind → count
    problems: list[Problem] = field(default_factory=list)


@cache
def schema_version(minor_version: str) -> str:
    """The newest schema version kubernetes-validate ships for the environment's minor version."""
    wanted = f"{minor_version}."
    known: list[str] = sorted(kubernetes_validate.utils.all_versions(), key=_key)
    matches = [v for v in known if v.startswith(wanted)]
    return matches[-1] if matches else known[-1]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def check_documents(documents: Mapping[str, Json], envs: Mapping[str, str]) -> SchemaReport:
    """Rendered objects by path (as data, never re-read from their bytes) against their schemas.

    `envs` maps env id → Kubernetes minor version; only `kubernetes/<env>/…` objects are checked,
    kustomizations aside."""
    report = SchemaReport()
    for path in sorted(documents):
        parts = path.split("/")
        if parts[0] != "kubernetes" or not path.endswith(".yaml") or parts[-1] == "kustomization.yaml":
            continue
        version = schema_version(envs[parts[1]])
        _check(json_object(documents[path]), path, version, report)
    return report


def _check(obj: Mapping[str, Json], path: str, version: str, report: SchemaReport) -> None:
    kind = f"{obj.get('apiVersion')}/{obj.get('kind')}"
    validator = _validator(version, str(obj.get("apiVersion")), str(obj.get("kind")))
    if validator is None:
        report.unchecked[kind] = report.unchecked.get(kind, 0) + 1
        return
    # Every place that is wrong, each with its most telling error (a `oneOf` says why at its path)
    by_place: dict[str, list[jsonschema.ValidationError]] = {}
    for error in validator.iter_errors(obj):
        by_place.setdefault(".".join(str(p) for p in error.absolute_path), []).append(error)
    for where, errors in sorted(by_place.items()):
        best = jsonschema.exceptions.best_match(errors)
        if best is not None:
            message = f"{kind} is not valid for Kubernetes {version}: {best.message}"
            report.problems.append(Problem(path, 0, where, message))
    if not by_place:
        report.checked += 1


@cache
def _definitions(version: str) -> Mapping[str, Json] | None:
    return _schema(version, "_definitions.json")


def _schema(version: str, name: str) -> Mapping[str, Json] | None:
    ref = resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{version}-local-strict/{name}"
    )
    try:
        schema: Mapping[str, Json] = json.loads(ref.read_text("utf-8"))
    except FileNotFoundError:
        return None
    return schema


@cache
def _validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """kubernetes-validate's strict schemas, each compiled once (its validate() re-reads them per call)."""
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = _schema(version, f"{kind.lower()}-{group}.json")
    if schema is None:
        return None
    definitions = _definitions(version)
    assert definitions is not None, f"kubernetes-validate {version} ships no _definitions.json"
    # jsonschema takes a registry of any schema document (a mapping, or a bare true/false).
    kind_schema: Resource[bool | Mapping[str, Json]] = Resource.from_contents(schema)
    shared: Resource[bool | Mapping[str, Json]] = Resource.from_contents(definitions)
    registry = shared @ (kind_schema @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def summary(report: SchemaReport) -> str:
    unchecked = ", ".join(f"{k} ×{n}" for k, n in sorted(report.unchecked.items()))
    text = f"{report.checked} objects valid against the Kubernetes schema"
    return f"{text}; not checked (no schema shipped): {unchecked}" if unchecked else text
