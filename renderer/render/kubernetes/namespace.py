"""Namespaces and the environment's secret store."""

from __future__ import annotations

from renderer.data import KubeObject
from renderer.model import Environment
from renderer.render.kubernetes.labels import recommended
from renderer.render.kubernetes.secrets import SECRET_STORE


def namespace(name: str, scope: str, part_of: str) -> KubeObject:
    """An app's namespace (part of the app), or the shared one (`scope` _shared, part of itself)."""
    labels = {**recommended(part_of, name, "namespace", part_of, None), "renderer.platform/scope": scope}
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
            "provider": {
                "aws": {
                    "service": "SecretsManager",
                    "region": env.region,
                    "role": env.role_arn,
                    "auth": {"jwt": jwt},
                }
            }
        },
    }
