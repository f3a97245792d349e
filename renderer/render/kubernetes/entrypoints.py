"""Entry points per environment: what a GitOps controller applies, in order, kept outside what it
points at (`clusters/<env>/renderer/<scope>/`).

One object per scope present (`_shared`, each app): a Flux `Kustomization` or an Argo CD
`Application`, as the environment's `delivery.gitops` chooses. `_shared` comes first (Flux
`dependsOn`, Argo CD sync wave 0), every app after it (wave 1). The cluster prerequisites (the
operators and their CRDs) are the platform team's own entries: Flux `_shared` depends on those named
in `delivery.prerequisites`; with Argo CD they belong in a negative sync wave (README).
"""

from __future__ import annotations

from collections.abc import Iterable

from renderer.data import Json, KubeObject
from renderer.model import Environment
from renderer.render.kubernetes.labels import recommended
from renderer.render.tree import SHARED

FLUX_API = "kustomize.toolkit.fluxcd.io/v1"
ARGO_API = "argoproj.io/v1alpha1"
FLUX_NAMESPACE = "flux-system"
ARGO_NAMESPACE = "argocd"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
WAVES = {SHARED: "0"}  # every app: "1"


def entry_dir(env: str, scope: str) -> str:
    """Where a scope's entry point lives; a publish of the scope owns this folder."""
    return f"clusters/{env}/renderer/{scope}"


def entry_name(env: str, scope: str) -> str:
    """`shared-<env>` or `app-<env>-<app>`: the prefixes keep an app named `shared` apart."""
    return f"shared-{env}" if scope == SHARED else f"app-{env}-{scope}"


def target_path(env: str, scope: str) -> str:
    """The folder the entry point applies (it holds a kustomization.yaml)."""
    return f"kubernetes/{env}/{scope}"


def entry_points(env: Environment, scopes: Iterable[str]) -> dict[str, KubeObject]:
    """Scope → its entry point, for every scope present."""
    make = _application if env.gitops == "argocd" else _kustomization
    return {scope: make(env, scope) for scope in sorted(set(scopes))}


def _metadata(env: Environment, scope: str, namespace: str) -> dict[str, Json]:
    part_of = env.shared_namespace if scope == SHARED else scope
    labels = {**recommended(entry_name(env.id, scope), env.id, "entry-point", part_of, None)}
    return {"name": entry_name(env.id, scope), "namespace": namespace, "labels": dict(labels)}


def _kustomization(env: Environment, scope: str) -> KubeObject:
    first = [entry_name(env.id, SHARED)] if scope != SHARED else list(env.prerequisites)
    spec: dict[str, Json] = {
        "interval": "10m",
        "retryInterval": "1m",
        "timeout": "5m",
        "path": f"./{target_path(env.id, scope)}",
        "prune": True,
        "wait": True,
        "sourceRef": {"kind": "GitRepository", "name": env.gitops_source, "namespace": FLUX_NAMESPACE},
    }
    if first:
        spec["dependsOn"] = [{"name": name, "namespace": FLUX_NAMESPACE} for name in first]
    return {
        "apiVersion": FLUX_API,
        "kind": "Kustomization",
        "metadata": _metadata(env, scope, FLUX_NAMESPACE),
        "spec": spec,
    }


def _application(env: Environment, scope: str) -> KubeObject:
    meta = _metadata(env, scope, ARGO_NAMESPACE)
    meta["annotations"] = {SYNC_WAVE: WAVES.get(scope, "1")}
    meta["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
    return {
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": meta,
        "spec": {
            "project": "default",
            "source": {
                "repoURL": env.gitops_source,
                "targetRevision": env.branch,
                "path": target_path(env.id, scope),
            },
            "destination": {"server": "https://kubernetes.default.svc"},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["ServerSideApply=true"],
                "retry": {"limit": 5, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "5m"}},
            },
        },
    }
