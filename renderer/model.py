"""Validated, trusted values that every stage after `validate` works on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from renderer.errors import Problem

Json = Any

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
    data: Any
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


def walk(data: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    """Every (path, value) in a plain data tree, depth first, in key order."""
    yield path, data
    if isinstance(data, dict):
        for key in sorted(data):
            yield from walk(data[key], (*path, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from walk(item, (*path, i))


# Specificity weights of design §4: env_type < app < env < res_id (class is part of identity).
CRITERIA_WEIGHTS: Mapping[str, int] = {"env_type": 1, "app": 2, "env": 4, "res_id": 8}


@dataclass(frozen=True, slots=True)
class Criterion:
    """One alternative of a definition's `criteria`: every field given must equal the request."""

    env_type: str | None = None
    env: str | None = None
    app: str | None = None
    res_id: str | None = None
    klass: str | None = None

    @property
    def specificity(self) -> int:
        return sum(w for k, w in CRITERIA_WEIGHTS.items() if getattr(self, k) is not None)

    def describe(self) -> str:
        parts = [f"{k}={getattr(self, k)}" for k in ("env_type", "app", "env", "res_id")]
        given = [p for p in parts if not p.endswith("=None")]
        if self.klass is not None:
            given.append(f"class={self.klass}")
        return ", ".join(given) or "(any)"


@dataclass(frozen=True, slots=True)
class Workload:
    app: str
    name: str
    file: str  # as shown to users, relative to the project root where possible
    base_dir: str  # directory that file `source:` paths are relative to
    spec: Mapping[str, Json]
    doc: Doc
    # contents of every file `source:` the workload names, read by the loader
    sources: Mapping[str, bytes] = field(default_factory=dict)
    rel: str = ""  # path inside the app directory: stable wherever the app is checked out

    @property
    def origin(self) -> str:
        """How rendered objects name their source: `<app>/<file>`, the same on every machine."""
        return f"{self.app}/{self.rel}"


@dataclass(frozen=True, slots=True)
class App:
    id: str
    directory: str
    workloads: tuple[Workload, ...]
    # env id → the workloads with that environment's overrides merged (only where some exist)
    variants: Mapping[str, tuple[Workload, ...]] = field(default_factory=dict)
    override_files: Mapping[str, str] = field(default_factory=dict)  # env id → a file, for errors

    def workloads_in(self, env: str) -> tuple[Workload, ...]:
        return self.variants.get(env, self.workloads)


@dataclass(frozen=True, slots=True)
class Environment:
    id: str
    type: str
    file: str
    cluster_name: str
    kubernetes_version: str
    namespace_pattern: str
    shared_namespace: str
    domain: str
    account_id: str
    region: str
    role_arn: str
    state_bucket: str
    state_key_prefix: str
    secret_prefix: str
    allowed_registries: tuple[str, ...]
    delivery: str
    branch: str
    policies: Mapping[str, str]
    doc: Doc

    def namespace(self, app: str) -> str:
        return self.namespace_pattern.replace("{app}", app).replace("{env}", self.id)

    def as_context(self) -> dict[str, Json]:
        return {
            "id": self.id,
            "type": self.type,
            "cluster": self.cluster_name,
            "kubernetes_version": self.kubernetes_version,
            "shared_namespace": self.shared_namespace,
            "domain": self.domain,
            "account_id": self.account_id,
            "region": self.region,
            "secret_prefix": self.secret_prefix,
        }


@dataclass(frozen=True, slots=True)
class Use:
    """A definition's dependency on a shared resource (`uses:`), an edge in the graph."""

    alias: str
    type: str
    klass: str
    id: str


@dataclass(frozen=True, slots=True)
class ResourceDefinition:
    id: str
    type: str
    klass: str
    criteria: tuple[Criterion, ...]
    driver: str
    params_schema: Mapping[str, Json] | None
    uses: tuple[Use, ...]
    template: str
    module_source: str
    module_inputs: Mapping[str, Json]
    outputs: Mapping[str, Json]
    secret_outputs: Mapping[str, Json]
    file: str
    doc: Doc


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    klass: str
    criteria: tuple[Criterion, ...]
    workload_kind: str
    replicas: int
    disruption_budget: Mapping[str, Json] | None
    topology_spread: tuple[Mapping[str, Json], ...]
    pod_security_context: Mapping[str, Json]
    container_security_context: Mapping[str, Json]
    default_resources: Mapping[str, Json]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    patches: tuple[Mapping[str, Json], ...]
    file: str


@dataclass(frozen=True, slots=True)
class Platform:
    """Everything the platform team owns, validated."""

    root: str
    environments: Mapping[str, Environment]
    definitions: tuple[ResourceDefinition, ...]
    profiles: tuple[Profile, ...]
    modules: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    module_variables: Mapping[str, frozenset[str]] = field(default_factory=dict)
    module_required: Mapping[str, frozenset[str]] = field(default_factory=dict)
    policies: Mapping[str, PolicySource] = field(default_factory=dict)  # set name → its files


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A secret is only ever a reference: an AWS Secrets Manager path+key or an in-cluster Secret."""

    key: str
    path: str = ""  # AWS Secrets Manager secret name
    secret: str = ""  # in-cluster Secret name (resources the platform runs in the namespace)

    def describe(self) -> str:
        if self.secret:
            return f"secret://kubernetes/{self.secret}#{self.key}"
        return f"secret://aws-secrets-manager/{self.path}#{self.key}"


@dataclass(frozen=True, slots=True)
class PolicySource:
    """One policy set as read from `policies/<set>/`: Rego files, their tests, and data files."""

    files: Mapping[str, str]  # policy file → text (tests excluded)
    tests: Mapping[str, str]
    data: Mapping[str, Json]


def deep_merge(a: Mapping[str, Json], b: Mapping[str, Json]) -> dict[str, Json]:
    """Maps merge key by key, recursively; anything else from `b` wins (conftest's --data)."""
    out = dict(a)
    for key, value in b.items():
        current = out.get(key)
        out[key] = (
            deep_merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
        )
    return out
