"""Objects and modules → the environment-repo tree: paths and bytes, nothing written yet."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from renderer.data import Json, object_name
from renderer.errors import InputError, Problem
from renderer.inputs.yamlio import dump, dump_json

Tree = dict[str, bytes]
# The same files as data, before they were dumped: the checks read these, never the bytes back.
Documents = dict[str, Json]
Route = tuple[str, str]  # an Ingress rule's (host, path)
# per app: each of its Ingress files → (sha-256 of the file's bytes, git's object id of them, the
# routes it holds)
Routes = Mapping[str, Mapping[str, tuple[str, str, tuple[Route, ...]]]]


@dataclass(frozen=True, slots=True)
class StoredShared:
    """An environment's shared scope as the environment repo holds it, for a render of some apps
    that keeps the shared resources they cannot change (`render/environment.py`): what those apps
    requested at their last render, and the files the kept resources have a part in."""

    # the shared uids the rendered apps (and those removed, or no longer loading) requested at
    # their last render: what the render may change
    requested: frozenset[str]
    paths: tuple[str, ...]  # every stored path under kubernetes/<env>/_shared/
    catalog: bytes | None  # catalog/<env>/_shared/catalog-info.yaml (parsed only when needed)
    # apps not rendered whose stored inputs are newer than their render here: they request nothing
    # here (`analysis.analyse`), and what they read stays as their render here left it
    newer: frozenset[str] = frozenset()
    # the shared uids that apps whose objects here stay as they are, yet whose stored inputs are
    # not those of their render here (`newer`, and apps whose stored inputs no longer load), read at
    # that render, each with those apps: what no app requests now is kept as stored while they do
    held: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the live module blocks of main's terraform/<env>/_shared/main.tf.json, by name (read and
    # parsed once, where `held` is not empty: `terraform.live_blocks`)
    modules: Mapping[str, Json] = field(default_factory=dict)
    # the uids that the apps whose record counts here (rendered now, removed, no longer loading,
    # newer) requested at their last render here, each with those apps: with the apps not among
    # them, who requested it then (`pipeline._held_conflicts`)
    asked: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "PersistentVolume",
        "CustomResourceDefinition",
        "ClusterSecretStore",
        "ClusterIssuer",
        "PriorityClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
SHARED = "_shared"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def object_file(obj: Mapping[str, Json]) -> str:
    return f"{obj['kind']}-{object_name(obj)}.yaml".lower()


def safe_join(*parts: str) -> str:
    """Join repo-relative parts; no part may be empty, absolute, or climb out."""
    for part in parts:
        for piece in part.split("/"):
            if piece in ("", ".", "..") or "\\" in piece or "\0" in piece:
                raise InputError(
                    [
                        Problem(
                            "",
                            0,
                            "",
                            f"unsafe path component {part!r}",
                            "names must be plain DNS labels",
                        )
                    ]
                )
    return posixpath.join(*parts)


def add_objects(
    tree: Tree, documents: Documents, directory: str, objects: Iterable[Mapping[str, Json]], origin: str
) -> None:
    for obj in objects:
        name = object_name(obj)
        if not _NAME.match(name):
            raise InputError([Problem(origin, 0, "", f"object name {name!r} is not a DNS name")])
        path = safe_join(directory, object_file(obj))
        data = dump(obj).encode()
        if path in tree and tree[path] != data:
            raise InputError(
                [
                    Problem(
                        origin,
                        0,
                        "",
                        f"two different objects render to {path}",
                        "give them distinct names",
                    )
                ]
            )
        tree[path] = data
        documents[path] = obj


def kustomization(resources: Iterable[str]) -> bytes:
    return dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": sorted(set(resources)),
        }
    ).encode()


def add_kustomizations(tree: Tree, env: str, kept: Iterable[str] = ()) -> None:
    """Per-scope (app or `_shared`) kustomizations listing exactly the files below them, and those
    `kept` as they are (paths outside the tree this render leaves in place).

    The environment's own kustomization is derived after a write from the scopes present
    (`env_kustomization`): scopes this render did not produce (an app kept as it was) stay listed."""
    root = f"kubernetes/{env}"
    scopes: dict[str, list[str]] = {}
    for path in [*tree, *kept]:
        if path.startswith(root + "/"):
            rel = path[len(root) + 1 :]
            scope, _, inner = rel.partition("/")
            if inner and inner != "kustomization.yaml":
                scopes.setdefault(scope, []).append(inner)
    for scope, files in scopes.items():
        tree[f"{root}/{scope}/kustomization.yaml"] = kustomization(files)


def env_kustomization(paths: Collection[str], env: str) -> bytes | None:
    """`kubernetes/<env>/kustomization.yaml`: every scope folder that holds a kustomization (None:
    the environment has none, and gets no file)."""
    return env_kustomizations(paths).get(env)


def env_kustomizations(paths: Collection[str]) -> dict[str, bytes]:
    """`env_kustomization` of every environment that has one, from one pass over the paths."""
    scopes: dict[str, list[str]] = {}
    for path in paths:  # kubernetes/<env>/<scope>/kustomization.yaml
        if path.endswith("/kustomization.yaml") and path.startswith("kubernetes/") and path.count("/") == 3:
            _, env, scope, _ = path.split("/")
            scopes.setdefault(env, []).append(f"{scope}/")
    return {env: kustomization(sorted(listed)) for env, listed in sorted(scopes.items())}


def add_json(tree: Tree, documents: Documents, path: str, data: Json) -> None:
    tree[path] = dump_json(data).encode()
    documents[path] = data
