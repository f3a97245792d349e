"""Resolved Terraform resources → one `main.tf.json` per environment × app, the platform's modules
per environment (`terraform/<env>/modules/<name>/`), and atlantis.yaml."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from renderer import __version__
from renderer.data import Json
from renderer.errors import InputError, Problem
from renderer.inputs.yamlio import dump, dump_json
from renderer.model import Environment, Platform
from renderer.render.tree import Tree

if TYPE_CHECKING:
    from renderer.resolve.graph import Node
    from renderer.resolve.nodes import Resolved

MODULES = "modules"  # terraform/<env>/modules/: no app may have this name (model.Trust.reserved)


def modules_dir(env: str) -> str:
    """Where an environment's copy of the platform's modules lives: a module change reaches an
    environment only through that environment's publish (for production, its merge request)."""
    return f"terraform/{env}/{MODULES}"


def is_module_path(path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 5 and parts[0] == "terraform" and parts[2] == MODULES


def project_dir(env: str, scope: str) -> str:
    return f"terraform/{env}/{scope}"


def main_file(env: str, scope: str) -> str:
    return f"{project_dir(env, scope)}/main.tf.json"


def project_of(path: str) -> tuple[str, str] | None:
    """(env, scope) when `path` is a project's main.tf.json, else None (modules are not projects)."""
    if not path.endswith("/main.tf.json"):  # most paths of an environment repo: no need to split
        return None
    parts = path.split("/")
    if (
        len(parts) == 4
        and parts[0] == "terraform"
        and parts[3] == "main.tf.json"
        and MODULES not in parts[1:3]
    ):
        return parts[1], parts[2]
    return None


EMPTIED_MODULE = "emptied"  # terraform/<env>/modules/<name>/emptied/: the module minus what it manages
KEPT_WHEN_EMPTIED = ("data", "locals", "provider", "terraform", "variable")


def module_files(platform: Platform, env_ids: Sequence[str]) -> Tree:
    """The platform's modules in each environment, as its projects refer to them (`../modules/<name>`),
    and for a module that configures its own provider, its emptied variant (`emptied_module`)."""
    out: Tree = {}
    for name, files in sorted(platform.modules.items()):
        emptied = emptied_module(files)
        for env in env_ids:
            out.update({f"{modules_dir(env)}/{name}/{file}": data for file, data in sorted(files.items())})
            if emptied is not None:
                out[f"{modules_dir(env)}/{name}/{EMPTIED_MODULE}/main.tf.json"] = emptied
    return out


def emptied_module(files: Mapping[str, bytes]) -> bytes | None:
    """For a module whose `.tf.json` files configure a provider: the same module with its variables,
    data sources, locals and provider configuration but no resources, outputs or module calls. An
    emptied project calls it instead of the module, so Terraform still has the provider it needs to
    destroy what the module managed (a module's own provider cannot be removed with its resources).
    None for a module without a provider block, or with files other than `.tf.json`."""
    if not files or any(not f.endswith(".tf.json") for f in files if "/" not in f):
        return None
    merged: dict[str, dict[str, Json]] = {}
    for file, data in sorted(files.items()):
        if "/" in file:
            continue  # a module reads only its own folder
        body = json.loads(data)
        for key in KEPT_WHEN_EMPTIED:
            if isinstance(body.get(key), dict):
                merged.setdefault(key, {}).update(body[key])
    if not merged.get("provider"):
        return None
    return dump_json(merged).encode()


def live_blocks(data: bytes | None) -> dict[str, Json]:
    """A stored project's module blocks by name, those being destroyed left out: none where there is
    no file, it is not a project, or it is a tombstone (`"//"`, emptied whole); no emptied block."""
    try:
        project = json.loads(data) if data is not None else None
    except (ValueError, UnicodeDecodeError):
        project = None
    modules = project.get("module") if isinstance(project, dict) and "//" not in project else None
    if not isinstance(modules, dict):
        return {}
    return {name: block for name, block in sorted(modules.items()) if not emptied(block)}


def emptied(block: Json) -> bool:
    """Whether a module block calls a module's emptied variant (its resources being destroyed)."""
    source = block.get("source") if isinstance(block, dict) else None
    return isinstance(source, str) and source.endswith(f"/{EMPTIED_MODULE}")


def module_source(name: str) -> str:
    return f"../{MODULES}/{name}"


def used_modules(project: Mapping[str, object]) -> list[str]:
    """The names of the environment's modules a project's `module` blocks call."""
    blocks = project.get("module")
    names = set()
    for block in blocks.values() if isinstance(blocks, Mapping) else ():
        source = block.get("source") if isinstance(block, Mapping) else None
        if isinstance(source, str) and source.startswith(f"../{MODULES}/"):
            names.add(source[len(f"../{MODULES}/") :].split("/")[0])
    return sorted(names)


def project_modules(
    paths: Collection[str],
    read: Callable[[Collection[str]], Mapping[str, bytes]],
    known: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, list[str]]:
    """Each Terraform project among `paths` (its folder) → the environment's modules it calls:
    from `known` where it says (a project whose file the caller knows unchanged), else from the
    project's bytes (`read`: present files' bytes, all at once; a project that is not a regular
    file calls none)."""
    known = known or {}
    found = {path: project_dir(*project) for path in paths if (project := project_of(path)) is not None}
    files = read([path for path, folder in found.items() if folder not in known])
    out: dict[str, list[str]] = {}
    for path, folder in sorted(found.items()):
        if folder in known:
            out[folder] = list(known[folder])
        else:
            out[folder] = used_modules(json.loads(files[path])) if path in files else []
    return out


def atlantis_file(projects: Mapping[str, Sequence[str]], envs: Mapping[str, Environment]) -> bytes:
    """atlantis.yaml for the Terraform projects present in the environment repo after a write
    (`projects`: `project_modules`)."""
    return dump(atlantis(projects, envs)).encode()


def module_name(node: Node) -> str:
    return module_name_of(node.type if node.shared else str(node.workload), node.name)


def module_name_of(first: str, name: str) -> str:
    """`module_name` from its parts: a shared resource's type and id, or a workload and resource."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", f"{first}_{name}")


def project(
    env: Environment,
    scope: str,
    resources: Iterable[Resolved],
    owner_tags: Mapping[str, str],
    kept: Mapping[str, Json] | None = None,
) -> dict[str, Json]:
    """Backend with locking, provider assuming the environment's role and tagging every resource with
    its owner (`owner_tags`: app, team, environment, cost centre), one module per resource. `kept`:
    module blocks by name, taken as the stored project has them (`render/environment._kept`)."""
    modules: dict[str, Json] = dict(kept or {})
    by: dict[str, Node] = {}
    for r in resources:
        module = r.artifacts.module
        assert module is not None
        name = module_name(r.node)
        if name in by or name in modules:  # another class of the same type and id (or names
            # that spell one), rendered or kept as stored: refused
            raise InputError([_same_module(by.get(name), r.node, name, main_file(env.id, scope))])
        by[name] = r.node
        modules[name] = {
            "source": module_source(str(module["source"])),
            **dict(sorted(module["inputs"].items())),
        }
    body: dict[str, Json] = {
        "terraform": _settings(env, scope),
        "provider": {"aws": _provider(env, scope, owner_tags)},
    }
    if modules:  # Terraform rejects an empty module object
        body["module"] = dict(sorted(modules.items()))
    return body


def _same_module(first: Node | None, second: Node, name: str, path: str) -> Problem:
    """Two resources whose Terraform module would have one name in one project: the second
    would replace the first's (another team's database, for a shared one). `first` None: a
    module kept as stored."""
    from renderer.resolve.graph import asker

    request = asker(second)
    where = (request.file, request.line) if request is not None else (second.definition.file, 0)
    return Problem(
        *where,
        f"resources.{request.resource}" if request is not None else "",
        f"resource {second.uid} and {_which(first)} would both be Terraform module {name!r} in {path}",
        "give this resource another id (or name): each needs a module of its own",
    )


def _which(node: Node | None) -> str:
    return f"resource {node.uid}" if node is not None else "a resource kept as stored"


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


def _provider(env: Environment, scope: str, owner_tags: Mapping[str, str]) -> dict[str, Json]:
    """`app` stays the project's scope (`_shared` for the shared one), as its state key says."""
    tags = {
        **owner_tags,
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


def atlantis(projects: Mapping[str, Sequence[str]], envs: Mapping[str, Environment]) -> dict[str, Json]:
    """Version 3, one project per environment × app, sorted; each plans when its own files or the
    modules it calls (in its environment) change. Setting `apply_requirements` here needs the
    server-side `allowed_overrides: [apply_requirements]` (deploy/atlantis/repos.yaml)."""
    entries = []
    for d in sorted(projects):
        _, env_id, scope = d.split("/")
        env = envs.get(env_id)
        watched: list[Json] = ["*.tf.json"]
        watched += [f"{module_source(m)}/**/*.tf.json" for m in projects[d]]
        entry: dict[str, Json] = {
            "name": f"{env_id}-{scope}",
            "dir": d,
            "workspace": "default",
            "autoplan": {"enabled": True, "when_modified": watched},
        }
        entry["apply_requirements"] = apply_requirements(env)
        entries.append(entry)
    return {
        "version": 3,
        "automerge": True,  # merged once every project is applied (design §2; docs/decisions.md)
        "parallel_plan": True,
        "parallel_apply": False,
        "projects": entries,
    }


OVERRIDDEN = ("apply_requirements",)  # project keys deploy/atlantis/repos.yaml must allow


def apply_requirements(env: Environment | None) -> list[Json]:
    """A protected environment's Terraform applies only once a person other than the author approved
    the merge request; a direct environment's once it is mergeable (its pipeline passed): the
    platform bot comments `atlantis apply` on it. An environment no longer configured: protected."""
    if env is not None and env.delivery == "direct":
        return ["mergeable"]
    return ["approved", "mergeable", "undiverged"]
