"""Namespaces and the environment's secret store."""

from __future__ import annotations

from renderer.data import KubeObject
from renderer.model import Environment
from renderer.render.kubernetes.labels import recommended
from renderer.render.kubernetes.secrets import SECRET_STORE

PSS = "pod-security.kubernetes.io/"


def namespace(name: str, scope: str, part_of: str, restricted: str | None = None) -> KubeObject:
    """An app's namespace (part of the app), or the shared one (`scope` _shared, part of itself).

    `restricted`: the Kubernetes minor whose Pod Security `restricted` level the namespace enforces
    (every app namespace; pinned, so a cluster upgrade does not tighten it unannounced)."""
    labels = {**recommended(part_of, name, "namespace", part_of, None), "renderer.platform/scope": scope}
    if restricted is not None:
        for mode in ("enforce", "audit", "warn"):
            labels[f"{PSS}{mode}"] = "restricted"
            labels[f"{PSS}{mode}-version"] = f"v{restricted}"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def secret_store(env: Environment) -> KubeObject:
    jwt = {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {
            "name": SECRET_STORE,
            "labels": recommended(
                SECRET_STORE, f"{SECRET_STORE}-{env.id}", "secret-store", env.shared_namespace, None
            ),
        },
        "spec": {
            # only the shared namespace may use it; app namespaces have their own SecretStore (tenancy)
            "conditions": [{"namespaces": [env.shared_namespace]}],
            "provider": {
                "aws": {
                    "service": "SecretsManager",
                    "region": env.region,
                    "role": env.role_arn,
                    "auth": {"jwt": jwt},
                }
            },
        },
    }
