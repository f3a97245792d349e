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
from datetime import UTC, datetime

from renderer.adapters import gitlab, gitrepo
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
    """What goes to the Terraform branch: the environments' Terraform and atlantis.yaml. The record
    of their projects (`writer.PROJECTS`) stays with main's part: the branch then never changes it,
    so it cannot conflict with main on it (main's record may name a project's file that is still
    on the branch: that project is read, as any whose file is not the recorded one)."""
    return [*_roots(env_ids), "atlantis.yaml"]


def _roots(env_ids: Sequence[str]) -> list[str]:
    return [f"terraform/{env}/" for env in env_ids]


def split_commit(
    repo: gitrepo.Repo, head: str | None, full: str, env_ids: Sequence[str], message: str, author: str
) -> Split:
    """`full` (the whole render, on `head`) as two commits: main's without the Terraform of
    `env_ids`, then the Terraform on top of it. The checkout's index is left at main's commit."""
    paths = terraform_paths(env_ids)
    if not _plans_something(repo, head, full, _roots(env_ids)):
        return Split(full, None)  # nothing Atlantis would plan: straight to main, as the objects
    # the index alone, no file read (a clone fetched without contents has few of them): the render
    # without those paths, then head's entries under them
    repo.git("read-tree", full)
    repo.git("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", *paths)
    if head:
        entries = repo.git("ls-tree", "-r", "-z", "--full-tree", head, "--", *paths)  # each ends in NUL
        if entries:
            repo.git("update-index", "-z", "--index-info", input_text=entries)
    # every entry comes from `full` or `head`, both on the remote: not checking that their files
    # are here too (they need not be)
    main_tree = repo.git("write-tree", "--missing-ok")
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
    # names only, no rename detection: that would read the contents of added and removed files
    changed = repo.git(
        "diff", "--name-only", "--no-renames", head or EMPTY_TREE, full, "--", *roots
    ).splitlines()
    modules = {tuple(p.split("/")[1:4:2]) for p in changed if terraform.is_module_path(p)}
    if any(not terraform.is_module_path(p) for p in changed):
        return True
    if not modules:  # no Terraform changed: no project to read
        return False
    listed = repo.git("ls-tree", "-r", "--name-only", full, "--", *roots).splitlines()
    projects = {path: project for path in listed if (project := terraform.project_of(path)) is not None}
    files = gitrepo.read_files(repo, full, sorted(projects))  # one git call, not one per file
    for path, project in sorted(projects.items()):
        called = terraform.used_modules(json.loads(files[path]))
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


# --- Applying: the platform bot's side of the flow (`renderer atlantis-apply`) ---------------------


@dataclass(frozen=True, slots=True)
class Decision:
    action: str  # apply, wait, done, skip, refuse, failed
    reason: str


def decide(mr: gitlab.OpenRequest, direct: frozenset[str], status_name: str = "atlantis") -> Decision:
    """What the bot does with one merge request. It applies only its own merge requests for
    directly delivered environments, that change nothing but those environments' Terraform, once
    Atlantis's plan has succeeded on the head commit, and asks once per plan."""
    envs = _branch_envs(mr.branch)
    if envs is None or not envs <= direct:
        return Decision("skip", "not only directly delivered environments: a person applies it")
    if not mr.mine:
        return Decision("skip", "not opened by the platform renderer")
    stray = [
        p for p in mr.paths if p != "atlantis.yaml" and not any(p.startswith(f"terraform/{e}/") for e in envs)
    ]
    if stray:
        return Decision(
            "refuse", f"changes {stray[0]}, outside terraform/<{'|'.join(sorted(envs))}>/ and atlantis.yaml"
        )
    by_name = {s.name: s for s in mr.statuses}
    apply, plan = by_name.get(f"{status_name}/apply"), by_name.get(f"{status_name}/plan")
    if apply is not None and apply.state == "failed":
        return Decision("failed", f"the apply failed ({status_name}/apply): see the merge request")
    if apply is not None:
        return Decision("done", f"{status_name}/apply is {apply.state}")
    if plan is None or plan.state in ("pending", "running", "created"):
        return Decision("wait", f"{status_name}/plan is {plan.state if plan else 'not set yet'}")
    if plan.state != "success":
        return Decision("failed", f"the plan did not succeed ({status_name}/plan is {plan.state})")
    asked = [at for body, at in mr.my_notes if body.strip() == APPLY_COMMENT]
    if any(_instant(at) >= _instant(plan.at) for at in asked):
        return Decision("done", f"`{APPLY_COMMENT}` already asked for this plan")
    return Decision("apply", f"{status_name}/plan succeeded")


def _branch_envs(branch: str) -> frozenset[str] | None:
    parts = branch.split("/")
    if len(parts) != 3 or parts[0] != "atlantis" or not parts[1]:
        return None
    return frozenset(parts[1].split("+"))


def _instant(at: str) -> datetime:
    """GitLab's timestamps, with or without fractions and in any zone, as comparable instants (one it
    did not give, or that does not parse, counts as the earliest: the bot then asks again, never less)."""
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
