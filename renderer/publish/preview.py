"""`diff`: what a publish would change, shown and never committed or pushed.

Each group of environments goes as `publish` sends it (direct ones to main, each protected one to
its MR branch) and is rendered by the very function a publish attempt uses, into a throwaway clone
of main. What it is compared with: main, or for a protected environment the open MR branch when the
remote has one (what reviewers see today). Only the paths the render owns are compared, so what
other apps changed on main since the MR branch was pushed never shows as this render's change.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from renderer.adapters import gitrepo
from renderer.model import Environment, Platform
from renderer.publish import bookkeeping, delivery, workspace, writer
from renderer.review import treediff
from renderer.review.treediff import TreeDiff


@dataclass(frozen=True, slots=True)
class Compared:
    envs: tuple[str, ...]
    target: str  # the branch a publish would push to
    base: str  # what the render was compared with: main, or the open MR branch
    diff: TreeDiff


def preview(platform: Platform, req: delivery.Request, environ: Mapping[str, str]) -> list[Compared]:
    """Every group's diff against what it would replace; nothing is committed or pushed."""
    out = []
    with tempfile.TemporaryDirectory(prefix=workspace.CLONE_PREFIX) as base:
        for i, (group, branch) in enumerate(delivery.targets(platform, req)):
            out.append(_one_group(platform, req, environ, os.path.join(base, f"clone-{i}"), group, branch))
    return out


def combined(results: Iterable[Compared]) -> TreeDiff:
    """One diff of every group: changes in (scope, path) order, warnings once each."""
    items = list(results)
    changes = sorted((c for r in items for c in r.diff.changes), key=lambda c: (c.scope, c.path, c.target))
    warnings = dict.fromkeys(w for r in items for w in r.diff.warnings)
    return TreeDiff(tuple(changes), tuple(warnings))


def _one_group(
    platform: Platform,
    req: delivery.Request,
    environ: Mapping[str, str],
    path: str,
    group: tuple[Environment, ...],
    branch: str,
) -> Compared:
    repo = gitrepo.open_clone(req.url, path, "main", environ, req.sensitive, req.git_timeout)
    gitrepo.fetch(repo, "main")
    compared_with = "main"
    if branch != "main" and gitrepo.remote_head(repo, branch):
        compared_with = branch
        old = _branch_files(req, environ, f"{path}-{branch.replace('/', '_')}", branch)
    else:
        old = _files(repo.path)
    _, warnings = delivery.render_checkout(platform, req, repo.path, group)
    new = _files(repo.path)
    keep = _owned_by(req, group)
    diff = treediff.compare(
        {p: d for p, d in old.items() if keep(p)},
        {p: d for p, d in new.items() if keep(p)},
        sensitive=req.sensitive,
        warnings=warnings,
        target=branch,
    )
    return Compared(tuple(e.id for e in group), branch, compared_with, diff)


def _owned_by(req: delivery.Request, group: tuple[Environment, ...]) -> _Keep:
    ids = [e.id for e in group]
    prefixes = bookkeeping.owned_prefixes(ids, sorted(a.id for a in req.apps), req.all_apps)
    derived = {"atlantis.yaml", *(f"kubernetes/{env}/kustomization.yaml" for env in ids)}
    return _Keep(tuple(prefixes), frozenset(derived))


@dataclass(frozen=True, slots=True)
class _Keep:
    prefixes: tuple[str, ...]
    derived: frozenset[str]

    def __call__(self, path: str) -> bool:
        return path in self.derived or writer.owned(path, self.prefixes)


def _branch_files(
    req: delivery.Request, environ: Mapping[str, str], path: str, branch: str
) -> dict[str, bytes]:
    repo = gitrepo.open_clone(req.url, path, branch, environ, req.sensitive, req.git_timeout)
    gitrepo.fetch(repo, branch)
    return _files(repo.path)


def _files(root: str) -> dict[str, bytes]:
    """The checkout's files (bookkeeping under `.render/` left out: the diff ignores it)."""
    out = {}
    for rel, full in writer.list_files(root).items():
        if rel.startswith(treediff.IGNORED):
            continue
        with open(full, "rb") as fh:
            out[rel] = fh.read()
    return out
