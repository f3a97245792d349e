"""One analysed environment → its part of the tree: workloads, resources, namespaces, Terraform."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from renderer.data import Json, KubeObject
from renderer.errors import Collector, InputError
from renderer.model import Environment
from renderer.render import kubernetes, terraform
from renderer.render.kubernetes.labels import (
    ANNOTATION_UID,
    resource_labels,
    stamp_resource,
    workload_version,
)
from renderer.render.kubernetes.namespace import namespace, secret_store
from renderer.render.tree import (
    CLUSTER_SCOPED,
    SHARED,
    Documents,
    Tree,
    add_json,
    add_kustomizations,
    add_objects,
    safe_join,
)
from renderer.resolve.analysis import Analysis
from renderer.resolve.dependencies import Dependencies
from renderer.resolve.nodes import Resolved


@dataclass(frozen=True, slots=True)
class EnvRender:
    analysis: Analysis
    tree: Tree
    documents: Documents  # the tree's objects and Terraform as data (kustomizations aside)
    # the platform files each app (and the shared scope) depended on; set by the pipeline
    dependencies: Dependencies = field(default_factory=lambda: Dependencies({}, {}))

    @property
    def env(self) -> Environment:
        return self.analysis.env


def render_env(analysis: Analysis, images: Mapping[str, str]) -> EnvRender:
    """Every file of one environment; problems of all workloads are reported together."""
    env = analysis.env
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
            objects = kubernetes.render_workload(wl, env, profile, resources, images)
        except InputError as exc:
            problems.extend(exc.problems())
            continue
        versions[(wl.app, wl.name)] = workload_version(objects)
        add_objects(tree, documents, safe_join(root, wl.app, wl.name), objects, wl.file)
    for app in sorted({w.app for w in analysis.workloads}):
        add_objects(tree, documents, safe_join(root, app), [namespace(env.namespace(app), app, app)], app)
    modules = _resources(tree, documents, analysis, root, versions)
    problems.raise_if_any()
    shared = [namespace(env.shared_namespace, SHARED, env.shared_namespace), secret_store(env)]
    add_objects(tree, documents, safe_join(root, SHARED), shared, env.file)
    for scope, items in sorted(modules.items()):
        add_json(tree, documents, terraform.main_file(env.id, scope), terraform.project(env, scope, items))
    add_kustomizations(tree, env.id)
    return EnvRender(analysis, tree, documents)


def _resources(
    tree: Tree,
    documents: Documents,
    analysis: Analysis,
    root: str,
    versions: Mapping[tuple[str, str], str | None],
) -> dict[str, list[Resolved]]:
    """Each resource's own objects into its directory; its Terraform modules grouped by scope."""
    env = analysis.env
    modules: dict[str, list[Resolved]] = {}
    for uid in analysis.graph.order:
        r = analysis.resolved[uid]
        node = r.node
        scope = SHARED if node.shared else str(node.app)
        namespace = env.shared_namespace if node.shared else env.namespace(scope)
        directory = (
            safe_join(root, SHARED, f"{node.type}-{node.name}")
            if node.shared
            else safe_join(root, scope, str(node.workload))
        )
        version = versions.get((str(node.app), str(node.workload)))
        objects = [_stamp(o, namespace, r, env, version) for o in r.artifacts.objects]
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
