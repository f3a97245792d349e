"""The one sequencer: apps × environments → graph → resolved resources → the rendered tree. Pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from renderer.errors import Collector, InputError, Located, Problem
from renderer.inputs.yamlio import dump
from renderer.model import App, Environment, Platform, Profile, Workload
from renderer.render import kubernetes, terraform
from renderer.render.kubernetes import ANNOTATION_UID, MANAGED_BY
from renderer.render.tree import (
    CLUSTER_SCOPED,
    SHARED,
    Tree,
    add_json,
    add_kustomizations,
    add_objects,
    safe_join,
)
from renderer.resolve import graph as graphs
from renderer.resolve.matching import match_profile
from renderer.resolve.nodes import Resolved, resolve

PROFILE_ANNOTATION = "renderer.platform/profile"


@dataclass(frozen=True, slots=True)
class Options:
    images: Mapping[str, str] = field(default_factory=dict)  # "workload[.container]" or "" → image
    jobs: int = 1  # environments rendered in parallel processes; the output is the same either way


@dataclass(frozen=True, slots=True)
class EnvRender:
    env: Environment
    workloads: tuple[Workload, ...]
    graph: graphs.Graph
    resolved: Mapping[str, Resolved]
    profiles: Mapping[tuple[str, str], Profile]
    tree: Tree


@dataclass(frozen=True, slots=True)
class Rendered:
    envs: tuple[EnvRender, ...]
    tree: Tree
    owned: tuple[str, ...]  # path prefixes this render replaces wholesale


def select_envs(platform: Platform, env_ids: Sequence[str] | None) -> list[Environment]:
    if not env_ids:
        return [platform.environments[k] for k in sorted(platform.environments)]
    unknown = [e for e in env_ids if e not in platform.environments]
    if unknown:
        known = ", ".join(sorted(platform.environments))
        raise InputError(
            [Problem("environments", 0, "", f"unknown environment '{e}'", f"known: {known}") for e in unknown]
        )
    return [platform.environments[e] for e in sorted(set(env_ids))]


def analyse(platform: Platform, apps: Sequence[App], env: Environment) -> EnvRender:
    """Everything up to the objects: graph and resolved resources (used by explain and render)."""
    problems = Collector()
    for app in apps:
        for env_id in app.variants:
            if env_id not in platform.environments:
                problems.add(
                    app.override_files[env_id],
                    0,
                    "",
                    f"overrides for unknown environment '{env_id}'",
                    f"known: {', '.join(sorted(platform.environments))}",
                )
    problems.raise_if_any()
    workloads = tuple(w for app in apps for w in app.workloads_in(env.id))
    graph = graphs.build(env, workloads, platform.definitions)
    resolved = resolve(graph, workloads)
    profiles: dict[tuple[str, str], Profile] = {}
    for wl in workloads:
        klass = (wl.spec["metadata"].get("annotations") or {}).get(PROFILE_ANNOTATION, "default")
        profile = match_profile(klass, wl.app, env, platform.profiles)
        if profile is None:
            problems.extend(
                [
                    wl.doc.problem(
                        ("metadata", "annotations", PROFILE_ANNOTATION) if klass != "default" else (),
                        f"no workload profile of class '{klass}' applies to env {env.id} ({env.type})",
                        "add a profile in platform-config/profiles",
                    )
                ]
            )
        else:
            profiles[(wl.app, wl.name)] = profile
    problems.raise_if_any()
    return EnvRender(env, workloads, graph, resolved, profiles, {})


def render_env(platform: Platform, apps: Sequence[App], env: Environment, options: Options) -> EnvRender:
    base = analyse(platform, apps, env)
    tree: Tree = {}
    problems = Collector()
    root = f"kubernetes/{env.id}"
    for wl in base.workloads:
        bound = base.graph.bindings[(wl.app, wl.name)]
        resources = {name: base.resolved[uid] for name, uid in bound.items()}
        try:
            objects = kubernetes.render_workload(
                wl, env, base.profiles[(wl.app, wl.name)], resources, options.images
            )
        except Located as exc:
            problems.extend([exc.problem])
            continue
        add_objects(tree, safe_join(root, wl.app, wl.name), objects, wl.file)
    for app in sorted({w.app for w in base.workloads}):
        add_objects(tree, safe_join(root, app), [_namespace(env.namespace(app), app)], app)
    modules: dict[str, list[Resolved]] = {}
    for uid in base.graph.order:
        r = base.resolved[uid]
        node = r.node
        namespace = env.shared_namespace if node.shared else env.namespace(str(node.app))
        directory = (
            safe_join(root, SHARED, f"{node.type}-{node.name}")
            if node.shared
            else safe_join(root, str(node.app), str(node.workload))
        )
        objects = [_stamp(o, namespace, r) for o in r.artifacts.objects]
        add_objects(tree, directory, objects, node.definition.file)
        if r.artifacts.module is not None:
            modules.setdefault(SHARED if node.shared else str(node.app), []).append(r)
    problems.raise_if_any()
    add_objects(
        tree,
        safe_join(root, SHARED),
        [_namespace(env.shared_namespace, SHARED), _secret_store(env)],
        env.file,
    )
    for scope, items in sorted(modules.items()):
        add_json(
            tree,
            f"{terraform.project_dir(env.id, scope)}/main.tf.json",
            terraform.project(env, scope, items),
        )
    add_kustomizations(tree, env.id)
    return EnvRender(env, base.workloads, base.graph, base.resolved, base.profiles, tree)


def render(
    platform: Platform, apps: Sequence[App], env_ids: Sequence[str] | None, options: Options
) -> Rendered:
    envs = select_envs(platform, env_ids)
    results, tree, problems = [], {}, Collector()
    for outcome in _each_env(platform, apps, envs, options):
        if isinstance(outcome, InputError):
            problems.extend(outcome.problems())
            continue
        results.append(outcome)
        tree.update(outcome.tree)
    problems.raise_if_any()
    for name, files in sorted(platform.modules.items()):
        for file, data in sorted(files.items()):
            tree[f"{terraform.MODULES_DIR}/{name}/{file}"] = data
    owned = [p for env in envs for p in (f"kubernetes/{env.id}/", f"terraform/{env.id}/")]
    owned.append(f"{terraform.MODULES_DIR}/")
    return Rendered(tuple(results), tree, tuple(owned))


def _render_or_error(
    platform: Platform, apps: Sequence[App], env: Environment, options: Options
) -> EnvRender | InputError:
    try:
        return render_env(platform, apps, env, options)
    except InputError as exc:
        return exc


def _each_env(
    platform: Platform, apps: Sequence[App], envs: Sequence[Environment], options: Options
) -> list[EnvRender | InputError]:
    """Environments are independent: with jobs > 1 they render in worker processes, in env order."""
    if options.jobs <= 1 or len(envs) <= 1:
        return [_render_or_error(platform, apps, env, options) for env in envs]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(options.jobs, len(envs))) as pool:
        futures = [pool.submit(_render_or_error, platform, apps, env, options) for env in envs]
        return [f.result() for f in futures]


def finish(paths: Collection[str], platform: Platform) -> bytes:
    """atlantis.yaml is derived from the Terraform projects present after a write."""
    dirs = [
        p.rsplit("/", 1)[0]
        for p in paths
        if p.startswith("terraform/")
        and p.endswith("/main.tf.json")
        and not p.startswith(terraform.MODULES_DIR)
    ]
    return dump(terraform.atlantis(dirs, platform.environments)).encode()


def _namespace(name: str, scope: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**MANAGED_BY, "renderer.platform/scope": scope}},
    }


def _secret_store(env: Environment) -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": kubernetes.SECRET_STORE, "labels": dict(MANAGED_BY)},
        "spec": {
            "provider": {
                "aws": {
                    "service": "SecretsManager",
                    "region": env.region,
                    "role": env.role_arn,
                    "auth": {
                        "jwt": {
                            "serviceAccountRef": {
                                "name": "external-secrets",
                                "namespace": "external-secrets",
                            }
                        }
                    },
                }
            }
        },
    }


def _stamp(obj: Mapping[str, Any], namespace: str, r: Resolved) -> dict[str, Any]:
    """Resource objects get the namespace, the managed-by label and the resource uid."""
    meta = dict(obj["metadata"])
    if obj["kind"] not in CLUSTER_SCOPED:
        meta.setdefault("namespace", namespace)
    meta["labels"] = {**(meta.get("labels") or {}), **MANAGED_BY}
    meta["annotations"] = {**(meta.get("annotations") or {}), ANNOTATION_UID: r.node.uid}
    return {**obj, "metadata": meta}
