"""Resolved Terraform resources → one `main.tf.json` per environment × app, and atlantis.yaml."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from renderer import __version__
from renderer.model import Environment
from renderer.resolve.nodes import Resolved

MODULES_DIR = "terraform/modules"


def project_dir(env: str, scope: str) -> str:
    return f"terraform/{env}/{scope}"


def module_name(resolved: Resolved) -> str:
    node = resolved.node
    base = f"{node.type}_{node.name}" if node.shared else f"{node.workload}_{node.name}"
    return re.sub(r"[^a-zA-Z0-9_-]", "_", base)


def project(env: Environment, scope: str, resources: Iterable[Resolved]) -> dict[str, Any]:
    """Backend with locking, provider assuming the environment's role, one module per resource."""
    key = "/".join(p for p in (env.state_key_prefix, env.id, scope, "terraform.tfstate") if p)
    modules = {}
    for r in resources:
        module = r.artifacts.module
        assert module is not None
        modules[module_name(r)] = {
            "source": f"../../modules/{module['source']}",
            **dict(sorted(module["inputs"].items())),
        }
    body: dict[str, Any] = {
        "terraform": {
            "required_version": ">= 1.10",
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.40, < 7.0"}},
            "backend": {
                "s3": {
                    "bucket": env.state_bucket,
                    "key": key,
                    "region": env.region,
                    "encrypt": True,
                    "use_lockfile": True,
                    "assume_role": {"role_arn": env.role_arn},
                }
            },
        },
        "provider": {
            "aws": {
                "region": env.region,
                "allowed_account_ids": [env.account_id],
                "assume_role": {"role_arn": env.role_arn},
                "default_tags": {
                    "tags": {
                        "managed-by": "platform-renderer",
                        "renderer-version": __version__,
                        "environment": env.id,
                        "app": scope,
                    }
                },
            }
        },
    }
    if modules:  # Terraform rejects an empty module object
        body["module"] = dict(sorted(modules.items()))
    return body


def atlantis(project_dirs: Iterable[str], envs: Mapping[str, Environment]) -> dict[str, Any]:
    """Version 3, one project per environment × app, sorted; protected envs need approval."""
    projects = []
    for d in sorted(set(project_dirs)):
        _, env_id, scope = d.split("/")
        env = envs.get(env_id)
        entry: dict[str, Any] = {
            "name": f"{env_id}-{scope}",
            "dir": d,
            "workspace": "default",
            "autoplan": {
                "enabled": True,
                "when_modified": ["*.tf.json", "../../modules/**/*.tf.json"],
            },
        }
        if env is None or env.delivery == "merge-request":
            entry["apply_requirements"] = ["approved", "mergeable", "undiverged"]
        projects.append(entry)
    return {
        "version": 3,
        "automerge": False,
        "parallel_plan": True,
        "parallel_apply": False,
        "projects": projects,
    }
