"""Resolve the graph in order: params placeholders, params schema, driver artifacts, outputs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from renderer.data import Json, PathKey
from renderer.errors import Collector, InputError
from renderer.inputs import schema
from renderer.inputs.placeholders import RefError, Resolver, SecretRefError, lookup, split_ref, substitute
from renderer.model import Environment, ResourceDefinition, SecretRef, Workload
from renderer.resolve import templates
from renderer.resolve.drivers import DRIVERS
from renderer.resolve.drivers.base import Artifacts
from renderer.resolve.graph import Graph, Node, reach
from renderer.resolve.templates import Context

if TYPE_CHECKING:
    from jsonschema.protocols import Validator as SchemaValidator

# A resolved output: plain data, or a reference to a secret (never its value).
Output = Json | SecretRef


@dataclass(frozen=True, slots=True)
class Resolved:
    node: Node
    guid: str
    secret_path: str
    params: Mapping[str, Json]
    outputs: Mapping[str, Output]
    artifacts: Artifacts
    values_from: str = ""  # where outputs beyond the definition's come from (`outputs_from`), for messages


def secret_path(env: Environment, node: Node) -> str:
    if node.shared:
        return f"{env.secret_prefix}/shared/{node.type}/{node.klass}/{node.id}"
    return f"{env.secret_prefix}/{node.app}/{node.workload}/{node.name}"


def peer_context(env: Environment, workloads: Sequence[Workload]) -> dict[str, Mapping[str, Json]]:
    """What definitions may know of the environment's workloads (for `service`, `route`…)."""
    out: dict[str, Mapping[str, Json]] = {}
    for wl in workloads:
        ports = {
            name: {
                "port": p["port"],
                "targetPort": p.get("targetPort", p["port"]),
                "protocol": p.get("protocol", "TCP"),
            }
            for name, p in sorted(((wl.spec.get("service") or {}).get("ports") or {}).items())
        }
        entry = {
            "name": wl.name,
            "app": wl.app,
            "namespace": env.namespace(wl.app),
            "ports": ports,
            "first_port": next(iter(ports.values()), None),
        }
        out[f"{wl.app}/{wl.name}"] = entry
    return out


def resolve(
    graph: Graph, workloads: Sequence[Workload], only: Collection[str] | None = None
) -> dict[str, Resolved]:
    """Every node in the graph's order; a node whose dependency failed is skipped (already reported).
    `only`: these nodes and what they depend on (a publish of one app neither resolves nor renders
    the other apps' own resources: `analysis.analyse`); None: every node."""
    peers = peer_context(graph.env, workloads)
    by_app: dict[str, dict[str, Mapping[str, Json]]] = {}
    for key, entry in peers.items():
        by_app.setdefault(str(entry["app"]), {})[key.split("/", 1)[1]] = entry
    scope = _Scope(graph, {(w.app, w.name): w for w in workloads}, peers, by_app)
    done: dict[str, Resolved] = {}
    problems = Collector()
    needed = None if only is None else reach(graph, only)
    for uid in graph.order:
        node = graph.nodes[uid]
        if needed is not None and uid not in needed:
            continue
        if any(dep not in done for dep in node.deps.values()):
            continue
        try:
            done[uid] = _resolve_node(scope, node, done)
        except templates.TemplateFailure as exc:  # the definition failed: say for which request
            asked = ", ".join(sorted({r.file for r in node.requesters})) or "another definition"
            request = f"while resolving {node.type} '{node.name}' for {asked}"
            problems.extend([dataclasses.replace(p, hint=p.hint or request) for p in exc.problems()])
        except InputError as exc:
            problems.extend(exc.problems())
    problems.raise_if_any()
    return done


class _NodeError(InputError):
    """A resource whose params or references do not resolve."""


@dataclass(frozen=True, slots=True)
class _Scope:
    """What every node of one environment is resolved against."""

    graph: Graph
    by_key: Mapping[tuple[str, str], Workload]
    peers: Mapping[str, Mapping[str, Json]]
    apps: Mapping[str, Mapping[str, Mapping[str, Json]]]  # app → its workloads' entries of `peers`

    def by_app(self, app: str) -> dict[str, Mapping[str, Json]]:
        return dict(self.apps.get(app, {}))


def _resolve_node(scope: _Scope, node: Node, done: Mapping[str, Resolved]) -> Resolved:
    definition = node.definition
    first = node.requesters[0] if node.requesters else None
    # params are resolved in the workload that wrote them; without params, checked for the first
    source = node.params_from or first
    wl = scope.by_key.get((source.app, source.workload)) if source else None
    params: Mapping[str, Json] = dict(node.params)
    if wl is not None and source is not None:
        params = _checked_params(scope, node, wl, source.resource, done)
    env = scope.graph.env
    spath = secret_path(env, node)
    context = _context(scope, node, params, spath, first.app if first else None, done)
    artifacts = DRIVERS[definition.driver].render(definition, context)
    outputs = _outputs(definition, context, spath)
    values_from = ""
    if definition.outputs_from == "env.values":
        values_from = f"environment {env.id} ({env.file}, values:)"
        outputs = {**_env_values(env, definition, outputs), **outputs}
    return Resolved(node, node.guid(env.id), spath, params, outputs, artifacts, values_from)


def _env_values(
    env: Environment, definition: ResourceDefinition, outputs: Mapping[str, Output]
) -> dict[str, Json]:
    """The environment file's `values:`; a key the definition already serves cannot be one of them."""
    taken = sorted(set(env.values) & set(outputs))
    if taken:
        raise _NodeError(
            env.doc.problem(
                ("values", taken[0]),
                f"'{taken[0]}' is also an output of {definition.id} ({definition.file})",
                "give the value another name",
            )
        )
    return dict(env.values)


def _checked_params(
    scope: _Scope, node: Node, wl: Workload, resource: str, done: Mapping[str, Resolved]
) -> dict[str, Json]:
    """The request's params with placeholders resolved, checked against the definition's schema."""
    definition = node.definition
    bound = scope.graph.bindings[(wl.app, wl.name)]
    params = _substitute_params(node.params, ("resources", resource, "params"), wl, bound, done)
    if definition.params_schema is None:
        return params
    errors = sorted(_params_validator(definition).iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        raise _NodeError(
            wl.doc.problem(
                ("resources", resource, "params", *e.absolute_path),
                f"params rejected by definition '{definition.id}': {e.message}",
                f"see params_schema in {definition.file}",
            )
        )
    return params


_VALIDATORS: dict[str, SchemaValidator] = {}


def _params_validator(definition: ResourceDefinition) -> SchemaValidator:
    """One compiled validator per definition (building one re-checks the schema: 25 ms)."""
    key = json.dumps(definition.params_schema, sort_keys=True)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = schema.compile_schema(definition.params_schema or {})
    return _VALIDATORS[key]


def _context(
    scope: _Scope,
    node: Node,
    params: Mapping[str, Json],
    spath: str,
    requester_app: str | None,
    done: Mapping[str, Resolved],
) -> dict[str, Json]:
    """What a definition's templates see: the resource, the environment, the workloads around it."""
    env = scope.graph.env
    app = node.app or requester_app
    return {
        "res": {
            "uid": node.uid,
            "guid": node.guid(env.id),
            "name": node.name,
            "type": node.type,
            "class": node.klass,
            "id": node.id,
            "params": params,
            "metadata": dict(node.metadata),
            "shared": node.shared,
        },
        "env": env.as_context(),
        "app": app,
        "namespace": env.namespace(node.app) if node.app else env.shared_namespace,
        "workload": scope.peers.get(f"{node.app}/{node.workload}") if node.app else None,
        "workloads": scope.by_app(app or ""),
        "all_workloads": scope.peers,
        "uses": {
            alias.split(":", 1)[1]: _public(done[dep].outputs)
            for alias, dep in sorted(node.deps.items())
            if alias.startswith("uses:")
        },
        "secret_path": spath,
    }


def _outputs(definition: ResourceDefinition, context: Context, spath: str) -> dict[str, Output]:
    """Outputs rendered from the context; secret outputs become references, never values."""
    doc = definition.doc
    outputs: dict[str, Output] = {
        **templates.render_object(doc, ("outputs",), definition.outputs, context, "render outputs")
    }
    for name, spec in sorted(definition.secret_outputs.items()):
        if isinstance(spec, str):
            outputs[name] = SecretRef(key=spec, path=spath)
        else:
            rendered = templates.render_texts(
                doc, ("secret_outputs", name), spec, context, "render secret outputs"
            )
            outputs[name] = SecretRef(key=rendered["key"], secret=rendered["secret"])
    return outputs


def _public(outputs: Mapping[str, Output]) -> dict[str, Json]:
    """Outputs as a definition template sees them: secrets as their reference text."""
    return {k: (v.describe() if isinstance(v, SecretRef) else v) for k, v in outputs.items()}


def _substitute_params(
    params: Mapping[str, Json],
    path: PathKey,
    wl: Workload,
    bound: Mapping[str, str],
    done: Mapping[str, Resolved],
) -> dict[str, Json]:
    return {k: _substitute(v, (*path, k), wl, bound, done) for k, v in params.items()}


def _substitute(
    value: Json, path: PathKey, wl: Workload, bound: Mapping[str, str], done: Mapping[str, Resolved]
) -> Json:
    if isinstance(value, str):
        try:
            return substitute(value, make_resolver(wl, bound, done))
        except RefError as exc:
            hint = "params take no secrets; pass them as variables" if isinstance(exc, SecretRefError) else ""
            raise _NodeError(wl.doc.problem(path, f"params: {exc}", hint)) from None
    if isinstance(value, Mapping):
        return _substitute_params(value, path, wl, bound, done)
    if isinstance(value, list):
        return [_substitute(v, (*path, i), wl, bound, done) for i, v in enumerate(value)]
    return value


def make_resolver(wl: Workload, bound: Mapping[str, str], done: Mapping[str, Resolved]) -> Resolver:
    """The Score reference resolver of one workload: `metadata.…` and `resources.NAME.…`."""

    def resolve_ref(ref: str) -> object:
        parts = split_ref(ref)
        if parts[0] == "metadata":
            return lookup(wl.spec["metadata"], parts[1:], ref)
        if parts[0] == "resources" and len(parts) > 2:
            uid = bound.get(parts[1])
            if uid is None:
                declared = ", ".join(sorted(bound)) or "none"
                raise RefError(
                    f"invalid ref '{ref}': the workload declares no resource '{parts[1]}' "
                    f"(declared: {declared})"
                )
            if uid not in done:
                raise RefError(f"invalid ref '{ref}': resource '{parts[1]}' is not resolved yet")
            outputs = done[uid].outputs
            if parts[2] not in outputs and done[uid].values_from:
                known = ", ".join(sorted(outputs)) or "none"
                raise RefError(
                    f"invalid ref '{ref}': {done[uid].values_from} declares no '{parts[2]}' (it has: {known})"
                )
            if parts[2] not in outputs:
                known = ", ".join(sorted(outputs)) or "none"
                raise RefError(
                    f"invalid ref '{ref}': resource '{parts[1]}' "
                    f"({done[uid].node.definition.id}) has no output '{parts[2]}' "
                    f"(outputs: {known})"
                )
            return lookup(outputs, parts[2:], ref)
        raise RefError(f"invalid ref '{ref}': unknown reference root, use $$ to escape")

    return resolve_ref
