"""Resolved Terraform resources → one `main.tf.json` per environment × app, and atlantis.yaml."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

from renderer import __version__
from renderer.data import Json
from renderer.inputs.yamlio import dump
from renderer.model import Environment, Platform
from renderer.render.tree import Tree
from renderer.resolve.nodes import Resolved

MODULES_DIR = "terraform/modules"


def project_dir(env: str, scope: str) -> str:
    return f"terraform/{env}/{scope}"


def main_file(env: str, scope: str) -> str:
    return f"{project_dir(env, scope)}/main.tf.json"


def project_of(path: str) -> tuple[str, str] | None:
    """(env, scope) when `path` is a project's main.tf.json, else None (modules are not projects)."""
    parts = path.split("/")
    if len(parts) == 4 and parts[0] == "terraform" and parts[3] == "main.tf.json" and parts[1] != "modules":
        return parts[1], parts[2]
    return None


def module_files(platform: Platform) -> Tree:
    """The platform's modules, as every project refers to them (`../../modules/<name>`)."""
    return {
        f"{MODULES_DIR}/{name}/{file}": data
        for name, files in sorted(platform.modules.items())
        for file, data in sorted(files.items())
    }


def atlantis_file(paths: Collection[str], envs: Mapping[str, Environment]) -> bytes:
    """atlantis.yaml from the Terraform projects present in the environment repo after a write."""
    projects = [project_of(p) for p in paths]
    return dump(atlantis([project_dir(*p) for p in projects if p], envs)).encode()


def module_name(resolved: Resolved) -> str:
    node = resolved.node
    base = f"{node.type}_{node.name}" if node.shared else f"{node.workload}_{node.name}"
    return re.sub(r"[^a-zA-Z0-9_-]", "_", base)


def project(env: Environment, scope: str, resources: Iterable[Resolved]) -> dict[str, Json]:
    """Backend with locking, provider assuming the environment's role, one module per resource."""
    modules: dict[str, Json] = {}
    for r in resources:
        module = r.artifacts.module
        assert module is not None
        modules[module_name(r)] = {
            "source": f"../../modules/{module['source']}",
            **dict(sorted(module["inputs"].items())),
        }
    body: dict[str, Json] = {"terraform": _settings(env, scope), "provider": {"aws": _provider(env, scope)}}
    if modules:  # Terraform rejects an empty module object
        body["module"] = dict(sorted(modules.items()))
    return body


def _settings(env: Environment, scope: str) -> dict[str, Json]:
    key = "/".join(p for p in (env.state_key_prefix, env.id, scope, "terraform.tfstate") if p)
    backend: dict[str, Json] = {
        "bucket": env.state_bucket,
        "key": key,
        "region": env.region,
        "encrypt": True,
        "use_lockfile": True,
        "assume_role": {"role_arn": env.role_arn},
    }
    return {
        "required_version": ">= 1.10",
        "required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.40, < 7.0"}},
        "backend": {"s3": backend},
    }


def _provider(env: Environment, scope: str) -> dict[str, Json]:
    tags = {
        "managed-by": "platform-renderer",
        "renderer-version": __version__,
        "environment": env.id,
        "app": scope,
    }
    return {
        "region": env.region,
        "allowed_account_ids": [env.account_id],
        "assume_role": {"role_arn": env.role_arn},
        "default_tags": {"tags": tags},
    }


def atlantis(project_dirs: Iterable[str], envs: Mapping[str, Environment]) -> dict[str, Json]:
    """Version 3, one project per environment × app, sorted; protected envs need approval."""
    projects = []
    for d in sorted(set(project_dirs)):
        _, env_id, scope = d.split("/")
        env = envs.get(env_id)
        entry: dict[str, Json] = {
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
