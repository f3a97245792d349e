"""`demo`: the shipped examples, every environment, published to a local environment repo."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import TypedDict

from renderer.adapters import gitrepo
from renderer.inputs import roots
from renderer.publish import delivery as publish


class Summary(TypedDict):
    """What `renderer demo` prints (as JSON, or as text by `as_text`)."""

    env_repo: str
    checkout: str
    commit: str | None
    environments: list[str]
    apps: list[str]
    files: int
    objects: dict[str, int]  # env id → rendered Kubernetes objects
    terraform_projects: list[str]


def run(root: str, bare: str, platform_commit: str, environ: Mapping[str, str]) -> Summary:
    if not os.path.isdir(bare):
        os.makedirs(bare)
        for argv in (
            ["init", "-q", "--bare", "-b", "main", bare],
            ["--git-dir", bare, "config", "uploadpack.allowFilter", "true"],  # as GitLab serves clones
        ):
            subprocess.run(["git", *argv], check=True, env=gitrepo.git_env(environ))
    inputs = roots.load(root, [])
    req = publish.Request(
        url=os.path.abspath(bare),
        apps=inputs.apps,
        direct_only=True,
        provenance=publish.Provenance("examples", "embedded", platform_commit),
        platform_digest=roots.platform_digest(root),
        jobs=roots.jobs(environ),
    )
    outcome = publish.publish(inputs.platform, req, environ)[0]
    checkout = os.path.join(os.path.dirname(os.path.abspath(bare)), "checkout")
    _refresh_checkout(bare, checkout, environ)
    files = loader_files(checkout)
    envs = sorted(inputs.platform.environments)
    return {
        "env_repo": os.path.abspath(bare),
        "checkout": checkout,
        "commit": outcome.commit,
        "environments": envs,
        "apps": [a.id for a in inputs.apps],
        "files": len(files),
        "objects": {
            e: sum(
                1 for f in files if f.startswith(f"kubernetes/{e}/") and not f.endswith("kustomization.yaml")
            )
            for e in envs
        },
        "terraform_projects": sorted(
            f.rsplit("/", 1)[0] for f in files if f.endswith("main.tf.json") and "/modules/" not in f
        ),
    }


def loader_files(checkout: str) -> list[str]:
    from renderer.publish.writer import list_files

    return sorted(list_files(checkout))


def _refresh_checkout(bare: str, checkout: str, environ: Mapping[str, str]) -> None:
    env = gitrepo.git_env(environ)
    if not os.path.isdir(os.path.join(checkout, ".git")):
        subprocess.run(["git", "clone", "-q", bare, checkout], check=True, env=env)
    else:
        subprocess.run(["git", "-C", checkout, "pull", "-q", "--ff-only"], check=True, env=env)


def as_text(s: Summary) -> str:
    head = f"committed {s['commit'][:12]}" if s["commit"] else "nothing changed: no new commit"
    lines = [
        f"demo: {head}",
        f"  environment repo (bare): {s['env_repo']}",
        f"  browsable checkout:      {s['checkout']}",
        f"  environments: {', '.join(s['environments'])}",
        f"  apps: {', '.join(s['apps'])}",
        f"  files: {s['files']}",
    ]
    lines += [f"  objects in {e}: {n}" for e, n in s["objects"].items()]
    lines.append(f"  terraform projects: {', '.join(s['terraform_projects'])}")
    lines.append(f"  try: kubectl kustomize {s['checkout']}/kubernetes/dev")
    return "\n".join(lines)
