"""One analysed environment → its part of the tree: workloads, resources, namespaces, Terraform."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

from renderer.data import Json, KubeObject, json_object
from renderer.errors import Collector, InputError
from renderer.model import Environment, Platform, Profile
from renderer.render import catalog, kubernetes, terraform
from renderer.render.catalog import Catalog
from renderer.render.kubernetes import observability
from renderer.render.kubernetes.entrypoints import entry_dir, entry_points
from renderer.render.kubernetes.labels import (
    ANNOTATION_UID,
    resource_labels,
    stamp_resource,
    workload_version,
)
from renderer.render.kubernetes.namespace import namespace, secret_store
from renderer.render.kubernetes.tenancy import secret_access, tenancy_objects
from renderer.render.ownership import Owner, owner_of, stamp
from renderer.render.tree import (
    CLUSTER_SCOPED,
    SHARED,
    Documents,
    Routes,
    StoredShared,
    Tree,
    add_json,
    add_kustomizations,
    add_objects,
    safe_join,
)
from renderer.resolve.analysis import Analysis
from renderer.resolve.dependencies import Dependencies
from renderer.resolve.graph import Node, folder_of, shared_folder, shared_parts
from renderer.resolve.nodes import Resolved

SECRET_ACCESS = "secret-access.tf.json"  # the app's secret-reading role, beside its main.tf.json


@dataclass(frozen=True, slots=True)
class EnvRender:
    analysis: Analysis
    tree: Tree
    documents: Documents  # the tree's objects and Terraform as data (kustomizations aside)
    # the platform files each app (and the shared scope) depended on; set by the pipeline
    dependencies: Dependencies = field(default_factory=lambda: Dependencies({}, {}))
    catalog: Catalog = field(default_factory=dict)  # the Backstage catalog as data (in `tree` too)
    routes: Routes = field(default_factory=dict)  # the rendered apps' Ingress routes; set by the pipeline
    # the folders of the shared resources this render kept as stored (`StoredShared`): a publish
    # leaves them as they are
    kept: tuple[str, ...] = ()
    # app → the shared uids its render reads (`graph.shared_read_by_app`), from the whole graph before a
    # lean result drops the apps' own nodes; set by the pipeline
    reads: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def env(self) -> Environment:
        return self.analysis.env


def render_env(
    analysis: Analysis,
    images: Mapping[str, str],
    platform: Platform,
    pins: Mapping[str, Mapping[str, str]] | None = None,
    focus: Collection[str] | None = None,
    stored: StoredShared | None = None,
) -> EnvRender:
    """Every file of one environment; problems of all workloads are reported together. Every object
    carries its owner's labels (`ownership`), every Terraform provider its tags; `pins`: per app,
    the digests of its images where the environment pins them. `focus`: render only these apps'
    scopes and the shared scope (the graph stays whole; the analysis resolved those alone); None:
    every app. `stored`: the shared scope as stored, where the analysis left shared resources
    unresolved (`analysis.analyse`): their folders stay, and the `_shared` kustomization, catalog
    and Terraform project take their parts from the stored files, as a whole render writes them;
    so do those that objects kept as they are still read (`StoredShared.held`)."""
    analysis = focused(analysis, focus)
    kept = _kept(analysis, stored)
    env = analysis.env
    trust = platform.trust
    monitoring = platform.apis.serves(observability.GROUP, env.id)
    root = f"kubernetes/{env.id}"
    tree: Tree = {}
    documents: Documents = {}
    problems = Collector()
    versions: dict[tuple[str, str], str | None] = {}  # (app, workload) → its version label
    for wl in analysis.workloads:
        bound = analysis.graph.bindings[(wl.app, wl.name)]
        resources = {name: analysis.resolved[uid] for name, uid in bound.items()}
        profile = analysis.profiles[(wl.app, wl.name)]
        try:
            objects = kubernetes.render_workload(
                wl, env, profile, resources, images, monitoring, (pins or {}).get(wl.app)
            )
        except InputError as exc:
            problems.extend(exc.problems())
            continue
        versions[(wl.app, wl.name)] = workload_version(objects)
        own = stamp(objects, owner_of(trust, env, wl.app))
        add_objects(tree, documents, safe_join(root, wl.app, wl.name), own, wl.file)
    apps = sorted({w.app for w in analysis.workloads})
    for app in apps:
        ns = namespace(env.namespace(app), app, app, env.kubernetes_version)
        add_objects(tree, documents, safe_join(root, app), stamp([ns], owner_of(trust, env, app)), app)
    owners = {scope: owner_of(trust, env, scope) for scope in apps} | {SHARED: owner_of(trust, env, None)}
    modules = _resources(tree, documents, analysis, root, versions, owners, kept.uids)
    problems.raise_if_any()
    shared = [namespace(env.shared_namespace, SHARED, env.shared_namespace), secret_store(env)]
    add_objects(tree, documents, safe_join(root, SHARED), stamp(shared, owners[SHARED]), env.file)
    by_app = _by_app(documents, analysis)
    access = {app: _tenancy(tree, documents, analysis, app, owners[app], by_app[app]) for app in apps}
    projects = set(modules) | {app for app, tf in access.items() if tf is not None}
    for scope in sorted(projects | ({SHARED} if kept.modules else set())):
        held = kept.modules if scope == SHARED else None
        main = terraform.project(env, scope, modules.get(scope, []), owners[scope].tags(), held)
        add_json(tree, documents, terraform.main_file(env.id, scope), main)
    for app, tf in sorted(access.items()):
        if tf is not None:
            add_json(tree, documents, f"{terraform.project_dir(env.id, app)}/{SECRET_ACCESS}", tf)
    add_kustomizations(tree, env.id, kept.paths)
    entities = catalog.render_catalog(analysis, trust, kept.entities, kept.order)
    tree.update(catalog.catalog_tree(entities))
    for scope, entry in entry_points(env, [SHARED, *apps]).items():
        add_objects(tree, documents, entry_dir(env.id, scope), stamp([entry], owners[scope]), env.file)
    return EnvRender(analysis, tree, documents, catalog=entities, kept=kept.folders)


class StoredUnreadable(Exception):
    """The stored shared scope cannot be kept as it is: render it whole (`pipeline._one_env`)."""


@dataclass(frozen=True, slots=True)
class _Kept:
    """The shared resources an analysis left unresolved, with their parts of the stored files, and
    those no app requests now that objects kept here still read (`StoredShared.held`)."""

    uids: frozenset[str] = frozenset()
    folders: tuple[str, ...] = ()  # kubernetes/<env>/_shared/<type>-<name>/
    paths: tuple[str, ...] = ()  # the stored files below those folders
    entities: Mapping[str, Mapping[str, Json]] = field(default_factory=dict)  # entity name → stored
    order: tuple[str, ...] = ()  # the stored catalog's entity names, in its order
    modules: Mapping[str, Json] = field(default_factory=dict)  # the shared project's, name → stored


def _kept(analysis: Analysis, stored: StoredShared | None) -> _Kept:
    graph = analysis.graph
    uids = frozenset(u for u, n in graph.nodes.items() if n.shared and u not in analysis.resolved)
    env_id = analysis.env.id
    orphans = _orphans(analysis, stored)
    if stored is None or not (uids or orphans):
        return _Kept()
    nodes = [graph.nodes[u] for u in sorted(uids)]
    folders = {f"{shared_dir(env_id, n)}/" for n in nodes}
    present = stored_folders(stored, env_id)
    folders |= {
        f"kubernetes/{env_id}/{SHARED}/{folder_of(*p)}/" for _, p in orphans if folder_of(*p) in present
    }
    paths = tuple(p for p in stored.paths if _folder(p) in folders)
    rel = catalog.catalog_file(env_id, SHARED)
    stored_catalog = catalog.stored_entities(stored.catalog, rel)
    if stored_catalog is None and uids:
        raise StoredUnreadable(f"{rel} is not a catalog the renderer wrote")
    # an entity of no shared resource of the graph, nor of one a focus app requested before (whose
    # entity the render drops), nor of one held: written under other names (an older renderer) or
    # by hand, so a kept resource's entity may be missing from it
    known = {*(u for u, n in graph.nodes.items() if n.shared), *stored.requested, *stored.held}
    if not (stored_catalog or {}).keys() <= {catalog.shared_name(u) for u in known}:
        raise StoredUnreadable(f"{rel} holds entities this render does not name")
    wanted = {catalog.resource_name(n) for n in nodes} | {catalog.shared_name(u) for u, _ in orphans}
    # the Terraform kept, held by objects kept here (`pipeline._before`) or no longer in the graph:
    # main's modules (a resolved node that takes one of their names is refused: `terraform.project`,
    # `pipeline._held_conflicts`)
    names = {
        terraform.module_name(n) for n in nodes if n.definition.driver == "terraform" and n.uid in stored.held
    }
    names |= {terraform.module_name_of(*p) for _, p in orphans}
    return _Kept(
        uids,
        tuple(sorted(folders)),
        paths,
        {k: v for k, v in (stored_catalog or {}).items() if k in wanted},
        tuple(stored_catalog or ()),
        {name: block for name, block in stored.modules.items() if name in names},
    )


def _orphans(analysis: Analysis, stored: StoredShared | None) -> list[tuple[str, tuple[str, str]]]:
    """The shared resources `stored.held` names that no node of the graph stands for, with their
    type and id (a resolved node may not take their folder or module: `pipeline._held_conflicts`)."""
    if stored is None or not stored.held:
        return []
    nodes = analysis.graph.nodes
    return [(uid, parts) for uid in sorted(stored.held) if uid not in nodes and (parts := shared_parts(uid))]


def stored_folders(stored: StoredShared, env_id: str) -> set[str]:
    """The folders below kubernetes/<env>/_shared/ that hold stored files, by name."""
    root = f"kubernetes/{env_id}/{SHARED}/"
    return {_folder(p)[len(root) : -1] for p in stored.paths if p.startswith(root) and p.count("/") > 3}


def _folder(path: str) -> str:
    """kubernetes/<env>/_shared/<folder>/ of a stored path below it."""
    return "/".join(path.split("/", 4)[:4]) + "/"


def shared_dir(env: str, node: Node) -> str:
    """The folder of a shared resource's objects."""
    return safe_join(f"kubernetes/{env}", SHARED, shared_folder(node))


def focused(analysis: Analysis, focus: Collection[str] | None) -> Analysis:
    """The analysis with only the workloads of the apps in `focus` (None: all); graph kept whole."""
    if focus is None:
        return analysis
    return replace(analysis, workloads=tuple(w for w in analysis.workloads if w.app in focus))


Mine = tuple[list[Mapping[str, Json]], list[Profile]]  # an app's objects so far, its workloads' profiles


def _by_app(documents: Documents, analysis: Analysis) -> dict[str, Mine]:
    """Each app's objects so far (in path order) and its workloads' profiles, in one pass."""
    root = f"kubernetes/{analysis.env.id}/"
    out: dict[str, Mine] = {}
    for w in analysis.workloads:
        out.setdefault(w.app, ([], []))[1].append(analysis.profiles[(w.app, w.name)])
    for path, doc in sorted(documents.items()):
        app = path[len(root) :].split("/")[0] if path.startswith(root) else ""
        if app in out and path.startswith(f"{root}{app}/"):
            out[app][0].append(json_object(doc))
    return out


def _tenancy(
    tree: Tree,
    documents: Documents,
    analysis: Analysis,
    app: str,
    owner: Owner,
    mine: Mine,
) -> dict[str, Json] | None:
    """The app namespace's tenancy objects beside its Namespace; its secret role's Terraform (None:
    the app reads no Secrets Manager secret). `mine`: the app's objects and profiles (`_by_app`)."""
    env = analysis.env
    scope_dir = f"kubernetes/{env.id}/{app}/"
    objects, profiles = mine
    made = stamp(tenancy_objects(env, app, objects, profiles), owner)
    add_objects(tree, documents, scope_dir.rstrip("/"), made, app)
    return secret_access(env, app, objects)


def _resources(
    tree: Tree,
    documents: Documents,
    analysis: Analysis,
    root: str,
    versions: Mapping[tuple[str, str], str | None],
    owners: Mapping[str, Owner],
    kept: Collection[str],
) -> dict[str, list[Resolved]]:
    """Each resource's own objects into its directory; its Terraform modules grouped by scope.
    `kept`: shared resources left as stored, neither resolved nor rendered."""
    env = analysis.env
    modules: dict[str, list[Resolved]] = {}
    apps = {w.app for w in analysis.workloads}
    for uid in analysis.graph.order:
        node = analysis.graph.nodes[uid]
        if (not node.shared and node.app not in apps) or uid in kept:
            continue  # an app outside the focus: its resources are neither resolved nor rendered
        r = analysis.resolved[uid]
        scope = SHARED if node.shared else str(node.app)
        namespace = env.shared_namespace if node.shared else env.namespace(scope)
        directory = shared_dir(env.id, node) if node.shared else safe_join(root, scope, str(node.workload))
        version = versions.get((str(node.app), str(node.workload)))
        objects = stamp([_stamp(o, namespace, r, env, version) for o in r.artifacts.objects], owners[scope])
        add_objects(tree, documents, directory, objects, node.definition.file)
        if r.artifacts.module is not None:
            modules.setdefault(scope, []).append(r)
    return modules


def _stamp(
    obj: Mapping[str, Json], namespace: str, r: Resolved, env: Environment, version: str | None
) -> KubeObject:
    """Resource objects get the namespace, the recommended labels and the resource uid."""
    labels = resource_labels(r, env, obj, version)
    where = None if obj["kind"] in CLUSTER_SCOPED else namespace
    return stamp_resource(obj, labels, {ANNOTATION_UID: r.node.uid}, where)
