"""Namespaces and the environment's secret store."""

from __future__ import annotations

from renderer.data import KubeObject
from renderer.model import Environment
from renderer.render.kubernetes.labels import MANAGED_BY
from renderer.render.kubernetes.secrets import SECRET_STORE


def namespace(name: str, scope: str) -> KubeObject:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**MANAGED_BY, "renderer.platform/scope": scope}},
    }


def secret_store(env: Environment) -> KubeObject:
    jwt = {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": SECRET_STORE, "labels": dict(MANAGED_BY)},
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
