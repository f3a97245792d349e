"""Every rendered Kubernetes object against what the environment's cluster serves, and its schema.

Built-in APIs: the strict schema of the environment's exact Kubernetes minor (kubernetes-validate),
plus platform-config/apis.yaml for what that minor has deprecated or removed. Custom resources: the
CRD schema of the operator release the table names (checks/crds/). A custom kind no operator in the
table serves is reported as not checked, by name: never silently passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

import jsonschema
import jsonschema_rs
import kubernetes_validate
from referencing import Registry, Resource

from renderer.checks import crdschema
from renderer.data import Json, json_object
from renderer.errors import Problem
from renderer.inputs.schema import says_valid
from renderer.inputs.yamlio import load_text
from renderer.model import ApiStatus, ApiTable

# API groups Kubernetes itself serves: the core group, the unqualified ones, and *.k8s.io
_BUILTIN = frozenset({"", "apps", "batch", "autoscaling", "policy", "extensions"})


@dataclass(slots=True)
class SchemaReport:
    checked: int = 0
    unchecked: dict[str, int] = field(default_factory=dict)  # apiVersion/kind (why) → count
    problems: list[Problem] = field(default_factory=list)
    against: set[str] = field(default_factory=set)  # the schemas used: "Kubernetes 1.35.0", "strimzi 1.2.0"


@cache
def schema_version(minor_version: str) -> str | None:
    """The schema kubernetes-validate ships for the environment's minor; None when it has none."""
    wanted = f"{minor_version}."
    known: list[str] = sorted(set(kubernetes_validate.utils.all_versions()), key=_key)
    matches = [v for v in known if v.startswith(wanted)]
    return matches[-1] if matches else None


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


CHECKED = ("kubernetes", "clusters")  # the top folders whose second part is the environment


def check_documents(
    documents: Mapping[str, Json],
    envs: Mapping[str, str],
    apis: ApiTable | None = None,
    texts: Mapping[str, bytes] | None = None,
) -> SchemaReport:
    """Rendered objects by path (as data, never re-read from their bytes) against their schemas.

    `envs` maps env id → Kubernetes minor version; the objects under `kubernetes/<env>/` and the
    entry points under `clusters/<env>/` (Flux Kustomizations, Argo CD Applications) are checked,
    kustomization.yaml files aside. `texts`, the rendered bytes, are read only to say on which line of its
    file each problem is."""
    table = apis or ApiTable()
    report = SchemaReport()
    for path in sorted(documents):
        parts = path.split("/")
        if parts[0] not in CHECKED or not path.endswith(".yaml") or parts[-1] == "kustomization.yaml":
            continue
        before = len(report.problems)
        _check(json_object(documents[path]), path, (parts[1], envs[parts[1]]), table, report)
        if texts and path in texts and len(report.problems) > before:
            report.problems[before:] = _on_lines(report.problems[before:], texts[path])
    return report


def _on_lines(problems: list[Problem], text: bytes) -> list[Problem]:
    """Each problem with the line of its place in the rendered file (the nearest enclosing key's
    where a key holds a dot: the path is `a.b.0.c` as jsonschema gives it)."""
    (doc,) = load_text(text.decode("utf-8"), "rendered")[:1]
    return [
        replace(p, line=doc.line(tuple(int(k) if k.isdigit() else k for k in p.path.split(".") if k)))
        for p in problems
    ]


def _check(
    obj: Mapping[str, Json], path: str, env: tuple[str, str], table: ApiTable, report: SchemaReport
) -> None:
    """`env`: the environment's id and its Kubernetes minor."""
    (env_id, minor) = env
    api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
    name = f"{api_version}/{kind}"
    group = api_version.rpartition("/")[0]
    if group in _BUILTIN or group.endswith(".k8s.io"):
        who, version, rows = "Kubernetes", minor, table.kubernetes
    else:
        operator = table.operator_for(group)
        if operator is None:
            _skip(report, f"{name} (no operator in the API table serves {group})")
            return
        who, version, rows = operator.name, operator.version, operator.apis
        if not table.serves(group, env_id):
            message = f"{name}: the {env_id} cluster does not run {who} ({table.file} says where it runs)"
            hint = f"render it only where {who} runs, or add {env_id} to its environments"
            report.problems.append(Problem(path, 0, "apiVersion", message, hint))
            return
    lifecycle = _lifecycle(name, api_version, kind, who, version, rows)
    if lifecycle is not None:
        report.problems.append(Problem(path, 0, "apiVersion", *lifecycle))
        return
    validator: jsonschema.protocols.Validator | None
    if who == "Kubernetes":
        validator, against = _kubernetes(minor, api_version, kind)
    else:
        if crdschema.shipped(who, version) is None:
            _skip(report, f"{name} (the renderer keeps no CRD schemas for {who} {version})")
            return
        validator, against = crdschema.validator(who, version, api_version, kind), f"{who} {version}"
    if validator is None:
        message = f"{name} is not served by {against}"
        report.problems.append(Problem(path, 0, "apiVersion", message, "use an API version it serves"))
        return
    report.against.add(against)
    if (
        _valid_fast(minor, api_version, kind, obj)
        if who == "Kubernetes"
        else crdschema.valid_fast(who, version, api_version, kind, obj)
    ):
        report.checked += 1
        return
    _validate(validator, obj, path, f"{name} is not valid for {against}", report)


def _skip(report: SchemaReport, reason: str) -> None:
    report.unchecked[reason] = report.unchecked.get(reason, 0) + 1


def _lifecycle(
    name: str, api_version: str, kind: str, who: str, version: str, rows: Iterable[ApiStatus]
) -> tuple[str, str] | None:
    """(message, hint) when the table says this API is removed, deprecated or not yet served."""
    at = _key(version)
    for row in rows:
        if not row.covers(api_version, kind):
            continue
        hint = f"use {row.replacement}" if row.replacement else "see platform-config/apis.yaml"
        if row.removed and _key(row.removed) <= at:
            return f"{name} is not served by {who} {version}: removed in {row.removed}", hint
        if row.deprecated and _key(row.deprecated) <= at:
            return f"{name} is deprecated in {who} {version} (since {row.deprecated})", hint
        if row.introduced and _key(row.introduced) > at:
            return f"{name} is not served by {who} {version}: it arrives in {row.introduced}", hint
    return None


def _validate(
    validator: jsonschema.protocols.Validator,
    obj: Mapping[str, Json],
    path: str,
    lead: str,
    report: SchemaReport,
) -> None:
    # Every place that is wrong, each with its most telling error (a `oneOf` says why at its path)
    by_place: dict[str, list[jsonschema.ValidationError]] = {}
    for error in validator.iter_errors(obj):
        by_place.setdefault(".".join(str(p) for p in error.absolute_path), []).append(error)
    for where, errors in sorted(by_place.items()):
        best = jsonschema.exceptions.best_match(errors)
        if best is not None:
            report.problems.append(Problem(path, 0, where, f"{lead}: {best.message}"))
    if not by_place:
        report.checked += 1


def _kubernetes(
    minor: str, api_version: str, kind: str
) -> tuple[jsonschema.Draft202012Validator | None, str]:
    version = schema_version(minor)
    if version is None:
        return None, f"any Kubernetes schema the renderer ships (none for {minor})"
    return _validator(version, api_version, kind), f"Kubernetes {version}"


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


def _valid_fast(minor: str, api_version: str, kind: str, obj: Mapping[str, Json]) -> bool:
    """Whether the object is valid, asked of jsonschema-rs (about 100x faster than jsonschema on
    these schemas). Only a yes is trusted: an object it finds invalid, or cannot take, goes to
    jsonschema, whose messages the report has always shown."""
    version = schema_version(minor)
    return says_valid(_fast_validator(version, api_version, kind) if version else None, obj)


@cache
def _fast_validator(version: str, api_version: str, kind: str) -> jsonschema_rs.Validator | None:
    found = _kind_schema(version, api_version, kind)
    if found is None:
        return None
    return jsonschema_rs.validator_for(dict(found[0]), registry=_fast_registry(version))


@cache
def _fast_registry(version: str) -> jsonschema_rs.Registry:
    """The version's shared definitions as jsonschema-rs holds them, built once: building it took
    most of each kind's validator (about 20 ms each, against 1 ms with it built)."""
    definitions = _definitions(version)
    assert definitions is not None, f"kubernetes-validate {version} ships no _definitions.json"
    return jsonschema_rs.Registry([(str(definitions["$id"]), dict(definitions))])


def _kind_schema(
    version: str, api_version: str, kind: str
) -> tuple[Mapping[str, Json], Mapping[str, Json]] | None:
    """The kind's schema and the definitions it refers to; None when this version has no such kind."""
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = _schema(version, f"{kind.lower()}-{group}.json")
    if schema is None:
        return None
    definitions = _definitions(version)
    assert definitions is not None, f"kubernetes-validate {version} ships no _definitions.json"
    return schema, definitions


@cache
def _validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """kubernetes-validate's strict schemas, each compiled once (its validate() re-reads them per call)."""
    found = _kind_schema(version, api_version, kind)
    if found is None:
        return None
    schema, definitions = found
    # jsonschema takes a registry of any schema document (a mapping, or a bare true/false).
    kind_schema: Resource[bool | Mapping[str, Json]] = Resource.from_contents(schema)
    shared: Resource[bool | Mapping[str, Json]] = Resource.from_contents(definitions)
    registry = shared @ (kind_schema @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def summary(report: SchemaReport) -> str:
    against = ", ".join(sorted(report.against))
    text = f"{report.checked} objects valid against the Kubernetes schema and CRD schemas ({against})"
    unchecked = ", ".join(f"{k} ×{n}" for k, n in sorted(report.unchecked.items()))
    return f"{text}; not checked: {unchecked}" if unchecked else text
