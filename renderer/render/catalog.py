"""The resource graph → a Backstage catalog: `catalog/<env>/<app>/catalog-info.yaml` per app.

Each environment is a Backstage namespace (its id), so the same app in dev and prod are distinct
entities and no two files define one entity. Per app: a System (the app), a Component per workload
(`<app>.<workload>`) in it, a Resource per node of the graph the renderer provisions (a Kubernetes or
Terraform definition; static facts and references to other workloads provision nothing). `dependsOn`
follows the graph: a workload on what it binds, a resource on what it `uses:`, a workload on another
workload of its app that a static resource names (`service`). Shared nodes are Resources in
`catalog/<env>/_shared/catalog-info.yaml`, owned by the platform's team. The owner is always the team
`ownership:` in trust.yaml gives (`group:default/<team>`): Backstage's Groups are the teams.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from renderer.data import Json
from renderer.inputs.yamlio import YamlLoadError, dump, load_generated
from renderer.model import Environment, Trust, Workload
from renderer.render.kubernetes.labels import selector_for
from renderer.render.ownership import owner_of
from renderer.render.tree import SHARED, Tree, safe_join
from renderer.resolve.analysis import Analysis
from renderer.resolve.graph import Node, stable_id
from renderer.resolve.nodes import Resolved

API_VERSION = "backstage.io/v1alpha1"
ROOT = "catalog"
FILE = "catalog-info.yaml"
_NAME = re.compile(r"^[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*$")  # Backstage's rule for entity names


def catalog_file(env: str, scope: str) -> str:
    return safe_join(ROOT, env, scope, FILE)


def entity_name(text: str) -> str:
    """A valid Backstage entity name (63 characters, single separators); a changed or long one
    keeps a hash of the original, so two names never meet. The hash has 64 bits: with 32, an app
    could search out a long name that ends like another team's entity, and the duplicate check
    (`checks/catalog.py`) would then stop every platform-wide publish."""
    if len(text) <= 63 and _NAME.match(text):
        return text
    cleaned = re.sub(r"[-_.]{2,}", "-", re.sub(r"[^A-Za-z0-9_.-]", "-", text)).strip("-_.")
    return f"{cleaned[:46].rstrip('-_.')}-{stable_id(text, length=16)}".lstrip("-")


def provisioned(r: Resolved) -> bool:
    return bool(r.artifacts.objects) or r.artifacts.module is not None


def joined(*parts: str) -> str:
    """Parts of an entity name, joined so that two different lists never meet: each part but the
    last is a DNS label or a Score type or class, none of which holds a '.' (a hyphen would not do:
    app `a-b` workload `c` and app `a` workload `b-c` both spell `a-b-c`). An app's Resource has
    three parts, so two dots; a shared one starts with `shared` and has four parts (a shared id may
    hold dots of its own), so three or more: the two never meet either."""
    return ".".join(parts)


def component_name(app: str, workload: str) -> str:
    return entity_name(joined(app, workload))


def resource_name(node: Node) -> str:
    if node.shared:
        return shared_name(node.uid)
    return entity_name(joined(str(node.app), str(node.workload), node.name))


def shared_name(uid: str) -> str:
    """A shared resource's entity name, from its uid (`graph.shared_uid`: `<type>.<class>#<id>`)."""
    kind, _, id_ = uid.partition("#")
    return entity_name(joined(SHARED_PART, *kind.split(".", 1), id_))


SHARED_PART = "shared"  # the first part of a shared resource's entity name


Catalog = dict[str, list[Mapping[str, Json]]]  # catalog file → its entities, in order


def render_catalog(
    analysis: Analysis,
    trust: Trust,
    kept: Mapping[str, Mapping[str, Json]] | None = None,
    stored_order: Sequence[str] = (),
) -> Catalog:
    """Every app's catalog file, and the shared scope's when a provisioned node is shared. `kept`:
    entities of shared nodes not resolved again, by name, as the stored catalog has them (and of
    shared resources no node stands for: `render/environment._kept`); `stored_order`: the names of the
    stored catalog's entities, in its order."""
    env = analysis.env
    files: Catalog = {}
    # each app's workloads and provisioned resources, grouped in one pass (asking every app of
    # every workload and node grew as the square of the fleet)
    workloads: dict[str, list[Workload]] = {}
    for wl in analysis.workloads:
        workloads.setdefault(wl.app, []).append(wl)
    ordered = _ordered(analysis)
    own: dict[str, list[Resolved]] = {}
    for r in ordered:
        if r.node.app is not None and not r.node.shared and provisioned(r):
            own.setdefault(r.node.app, []).append(r)
    for app in sorted(workloads):
        files[catalog_file(env.id, app)] = _app_entities(
            analysis, trust, app, workloads[app], own.get(app, [])
        )
    team = owner_of(trust, env, None).team
    entities: list[Mapping[str, Json]] = []
    kept = kept or {}
    for uid in analysis.graph.order:  # in the graph's order, the kept ones where they stand
        node = analysis.graph.nodes[uid]
        done = analysis.resolved.get(uid)
        if done is not None and node.shared and provisioned(done):
            entities.append(_resource(env, done, team, None, analysis.resolved))
        elif done is None and node.shared and resource_name(node) in kept:
            entities.append(kept[resource_name(node)])
    # then those of no node of the graph (kept while objects kept here read them), each after the
    # entity it follows in the stored catalog: where the render that wrote it put it
    named = {resource_name(n) for n in analysis.graph.nodes.values() if n.shared}
    placed = [_name(e) for e in entities]
    for at, name in enumerate(stored_order):
        if name in kept and name not in named:
            before = next((p for p in reversed(stored_order[:at]) if p in placed), None)
            where = placed.index(before) + 1 if before is not None else 0
            placed.insert(where, name)
            entities.insert(where, kept[name])
    if entities:
        files[catalog_file(env.id, SHARED)] = entities
    return files


def _name(entity: Mapping[str, Json]) -> Json:
    meta = entity.get("metadata")
    return meta.get("name") if isinstance(meta, Mapping) else None


def stored_entities(data: bytes | None, rel: str) -> dict[str, Mapping[str, Json]] | None:
    """The entities of a catalog file the renderer wrote, by name; None when it is not one (it is
    missing, does not parse, or holds something other than named entities, once each)."""
    if data is None:
        return None  # gone by hand: what it held of the kept resources is unknown
    if not data.strip():
        return {}
    try:
        docs = load_generated(data.decode("utf-8"), rel)
    except (UnicodeDecodeError, YamlLoadError):
        return None
    out: dict[str, Mapping[str, Json]] = {}
    for doc in docs:
        meta = doc.get("metadata") if isinstance(doc, Mapping) else None
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if not isinstance(doc, Mapping) or not isinstance(name, str) or name in out:
            return None
        out[name] = doc
    return out or None


def catalog_tree(files: Catalog) -> Tree:
    """Each file as YAML documents, one entity each."""
    return {path: "---\n".join(dump(e) for e in entities).encode() for path, entities in files.items()}


def _ordered(analysis: Analysis) -> list[Resolved]:
    # in the graph's order; a focused analysis has not resolved the other apps' own nodes
    return [analysis.resolved[uid] for uid in analysis.graph.order if uid in analysis.resolved]


def _ref(kind: str, env: Environment, name: str) -> str:
    return f"{kind}:{env.id}/{name}"


def _app_entities(
    analysis: Analysis, trust: Trust, app: str, workloads: Sequence[Workload], own: Sequence[Resolved]
) -> list[Mapping[str, Json]]:
    env = analysis.env
    owner = owner_of(trust, env, app)
    system: dict[str, Json] = {
        "apiVersion": API_VERSION,
        "kind": "System",
        "metadata": _meta(env, app, f"The app {app} in {env.id}, as the platform renders it", owner.labels()),
        "spec": {"owner": f"group:default/{owner.team}"},
    }
    names = {w.name for w in workloads}
    entities: list[Mapping[str, Json]] = [system]
    for wl in sorted(workloads, key=lambda w: w.name):
        bound = analysis.graph.bindings[(wl.app, wl.name)]
        depends = sorted(
            {_dependency(env, analysis.resolved[uid], app, names) for uid in bound.values()} - {""}
        )
        spec: dict[str, Json] = {
            "type": "service",
            "lifecycle": "production" if env.type == "production" else "experimental",
            "owner": f"group:default/{owner.team}",
            "system": _ref("system", env, app),
        }
        if depends:
            spec["dependsOn"] = list(depends)
        meta = _meta(env, component_name(app, wl.name), f"{wl.origin} in {env.id}", owner.labels())
        meta["title"] = f"{app}/{wl.name}"
        selector = ",".join(f"{k}={v}" for k, v in sorted(selector_for(wl).items()))
        meta["annotations"] = {
            "backstage.io/kubernetes-label-selector": selector,
            "backstage.io/kubernetes-namespace": env.namespace(app),
        }
        entities.append({"apiVersion": API_VERSION, "kind": "Component", "metadata": meta, "spec": spec})
    entities += [_resource(env, r, owner.team, app, analysis.resolved) for r in own]
    return entities


def _dependency(env: Environment, r: Resolved, app: str, workloads: set[str]) -> str:
    """What a workload's binding to `r` means in the catalog: a Resource it depends on, another of
    its app's workloads that a static resource names, or nothing (a fact, a volume)."""
    if provisioned(r):
        return _ref("resource", env, resource_name(r.node))
    named = r.outputs.get("name")
    if r.node.app == app and isinstance(named, str) and named in workloads:
        return _ref("component", env, component_name(app, named))
    return ""


def _resource(
    env: Environment, r: Resolved, team: str, app: str | None, resolved: Mapping[str, Resolved]
) -> dict[str, Json]:
    node = r.node
    spec: dict[str, Json] = {"type": node.type, "owner": f"group:default/{team}"}
    if app is not None:
        spec["system"] = _ref("system", env, app)
    used = (resolved[uid] for uid in sorted(set(node.deps.values())) if uid in resolved)
    deps = sorted({_ref("resource", env, resource_name(d.node)) for d in used if provisioned(d)})
    if deps:
        spec["dependsOn"] = list(deps)
    where = f"{node.workload}/{node.name}" if node.workload else node.id or node.name
    description = f"{node.type} ({node.definition.id}) for {where} in {env.id}"
    meta = _meta(env, resource_name(r.node), description, {})
    return {"apiVersion": API_VERSION, "kind": "Resource", "metadata": meta, "spec": spec}


def _meta(env: Environment, name: str, description: str, labels: Mapping[str, str]) -> dict[str, Json]:
    meta: dict[str, Json] = {"name": name, "namespace": env.id, "description": description}
    if labels:
        meta["labels"] = dict(labels)
    return meta
