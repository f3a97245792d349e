"""Terraform of directly delivered environments goes through a merge request that Atlantis applies.

Atlantis plans and applies only on merge requests, so a direct publish (dev, staging) commits its
Kubernetes objects and bookkeeping straight to `main` as before, and its Terraform changes (the
environments' `terraform/<env>/` and `atlantis.yaml`) as one commit on top of that, on the branch
`atlantis/<envs>/<scope>`, for which `publish` opens a merge request. Atlantis autoplans it; the
platform bot comments `APPLY_COMMENT`; `automerge` (atlantis.yaml) merges it once applied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from renderer.adapters import gitrepo
from renderer.render import terraform

APPLY_COMMENT = "atlantis apply"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree


@dataclass(frozen=True, slots=True)
class Split:
    main: str | None  # the commit for main (None: nothing but Terraform changed)
    terraform: str | None  # the commit for the Terraform branch, on top of `main` (None: no Terraform change)


def branch_name(env_ids: Sequence[str], scope: str) -> str:
    return f"atlantis/{'+'.join(env_ids)}/{scope}"


def terraform_paths(env_ids: Sequence[str]) -> list[str]:
    return [*(f"terraform/{env}/" for env in env_ids), "atlantis.yaml"]


def split_commit(
    repo: gitrepo.Repo, head: str | None, full: str, env_ids: Sequence[str], message: str, author: str
) -> Split:
    """`full` (the whole render, on `head`) as two commits: main's without the Terraform of
    `env_ids`, then the Terraform on top of it. The checkout's index is left at main's commit."""
    paths = terraform_paths(env_ids)
    if not _plans_something(repo, head, full, paths[:-1]):
        return Split(full, None)  # nothing Atlantis would plan: straight to main, as the objects
    repo.git("read-tree", full)
    if head:
        repo.git("reset", "-q", head, "--", *paths)
    else:
        repo.git("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", *paths)
    main_tree = repo.git("write-tree")
    head_tree = repo.git("rev-parse", f"{head}^{{tree}}") if head else EMPTY_TREE
    main = None if main_tree == head_tree else _commit_tree(repo, main_tree, head, message, author)
    subject, _, rest = message.partition("\n")
    terraform_message = f"terraform: {subject}\n{rest}"
    full_tree = repo.git("rev-parse", f"{full}^{{tree}}")
    terraform = _commit_tree(repo, full_tree, main or head, terraform_message, author)
    return Split(main, terraform)


def _plans_something(repo: gitrepo.Repo, head: str | None, full: str, roots: Sequence[str]) -> bool:
    """Whether the change has a project Atlantis plans: a project's files changed, or a module
    changed that a project of the same environment calls. A module nothing calls (yet) goes to
    main with the objects: a merge request with nothing to plan would never be applied or merged."""
    changed = repo.git("diff", "--name-only", head or EMPTY_TREE, full, "--", *roots).splitlines()
    modules = {tuple(p.split("/")[1:4:2]) for p in changed if terraform.is_module_path(p)}
    if any(not terraform.is_module_path(p) for p in changed):
        return True
    for path in repo.git("ls-tree", "-r", "--name-only", full, "--", *roots).splitlines():
        project = terraform.project_of(path)
        if project is None:
            continue
        called = terraform.used_modules(json.loads(repo.git("show", f"{full}:{path}")))
        if any((project[0], name) in modules for name in called):
            return True
    return False


def _commit_tree(repo: gitrepo.Repo, tree: str, parent: str | None, message: str, author: str) -> str:
    name, _, email = author.partition(" <")
    identity = (
        "-c",
        f"user.name={name or 'platform-renderer'}",
        "-c",
        f"user.email={email.rstrip('>') or 'renderer@platform.invalid'}",
    )
    parents = ("-p", parent) if parent else ()
    return repo.git(*identity, "commit-tree", tree, *parents, "-F", "-", input_text=message)


def merge_request_body(url_hint: str, envs: Sequence[str]) -> str:
    """What the Terraform merge request says it is, and the path that applies it."""
    return (
        f"Terraform for {', '.join(envs)} (delivered directly: the Kubernetes objects are on main).\n\n"
        "Atlantis plans this merge request automatically. The platform bot applies it by commenting\n"
        f"`{APPLY_COMMENT}` once the plan has succeeded; Atlantis merges it after the apply "
        f"(`automerge`).{url_hint}\n"
    )
