"""What a platform-config change does to every app the environment repo holds: the pairs it changes.

In: the two rendered sides (`review.sides`), the head's dependency record per environment, and the
files the change touches. Out: `Impact`, every app × environment pair and shared scope whose output
changes (or whose Terraform projects use a changed module), with the per-object diffs, why (the
changed platform files the pair depends on), and the apps that newly fail to render or newly fail a
policy. A pure function of its arguments; `impactreport` turns it into text, Markdown or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from renderer.render.terraform import is_module_path, module_source, project_of
from renderer.render.tree import SHARED
from renderer.resolve.dependencies import MODULES, Dependencies, Files, covers
from renderer.review import treediff
from renderer.review.sides import TOGETHER, Failure, Side
from renderer.review.treediff import REPO_SCOPE, ObjectChange, TreeDiff

PLATFORM_DIRS = ("environments/", "platform-config/", "policies/")


@dataclass(frozen=True, slots=True)
class Pair:
    scope: str  # `<env>/<app>` or `<env>/_shared`
    changes: tuple[ObjectChange, ...]  # its objects that differ (none: reached through a module only)
    why: tuple[str, ...]  # changed platform files it depends on
    considered: tuple[str, ...]  # changed files it considered and did not match (they may now)
    modules: tuple[str, ...]  # changed Terraform modules its projects use


@dataclass(frozen=True, slots=True)
class Impact:
    base: str  # what the base side is (a commit)
    head: str  # a commit, or "the work tree"
    changed_files: tuple[str, ...]
    diff: TreeDiff
    pairs: tuple[Pair, ...]
    others: tuple[str, ...]  # other scopes that change: `<env>` files, `terraform/<env>/modules`, `repo`
    new_failures: tuple[Failure, ...]  # fail on the head side, rendered on the base side
    still_failing: tuple[Failure, ...]  # fail on both sides (the head's reason)
    fixed: tuple[str, ...]  # failed on the base side, render on the head side
    pictures: Mapping[str, str] = field(default_factory=dict)  # env → the affected part of its graph

    @property
    def none(self) -> bool:
        return self.diff.empty and not self.new_failures and not self.fixed and not self.pairs

    @property
    def outside(self) -> tuple[str, ...]:
        """Changed files that are not platform configuration: the renderer itself, mostly."""
        return tuple(p for p in self.changed_files if not p.startswith(PLATFORM_DIRS))


def assess(
    base: Side,
    head: Side,
    record: Mapping[str, Dependencies],
    changed: Sequence[str],
    labels: tuple[str, str],
    sensitive: Sequence[str] = (),
) -> Impact:
    diff = treediff.compare(base.tree, head.tree, sensitive=sensitive)
    modules = _changed_modules(diff)
    scopes = {c.scope for c in diff.changes if _is_pair(c.scope)} | set(_reached(head.tree, modules))
    pairs = tuple(_pair(scope, diff, record, changed, modules) for scope in sorted(scopes, key=_order))
    others = tuple(s for s in diff.scopes() if not _is_pair(s))
    new = tuple(f for app, f in head.failures.items() if app not in base.failures)
    still = tuple(f for app, f in head.failures.items() if app in base.failures)
    fixed = tuple(app for app in base.failures if app not in head.failures and app != TOGETHER)
    return Impact(labels[0], labels[1], tuple(sorted(changed)), diff, pairs, others, new, still, fixed)


def _is_pair(scope: str) -> bool:
    return scope != REPO_SCOPE and scope.count("/") == 1


def _order(scope: str) -> tuple[str, bool, str]:
    env, _, app = scope.partition("/")
    return env, app != SHARED, app


def _changed_modules(diff: TreeDiff) -> tuple[tuple[str, str], ...]:
    """(env, module name) of every changed file under `terraform/<env>/modules/<name>/`."""
    names = {tuple(c.path.split("/")[1:4:2]) for c in diff.changes if is_module_path(c.path)}
    return tuple(sorted((env, name) for env, name in names))


def _reached(tree: Mapping[str, bytes], modules: Sequence[tuple[str, str]]) -> list[str]:
    """Scopes whose Terraform project uses a module changed in its environment: Atlantis plans
    them though their files stay the same (a project names its modules as `../modules/<name>`)."""
    out = []
    for path, data in sorted(tree.items()):
        project = project_of(path)
        if project is None:
            continue
        wanted = {module_source(name) for env, name in modules if env == project[0]}
        if not wanted:
            continue
        blocks = json.loads(data).get("module") or {}
        if any(isinstance(b, dict) and b.get("source") in wanted for b in blocks.values()):
            out.append("/".join(project))
    return out


def scope_files(record: Mapping[str, Dependencies], scope: str) -> Files:
    env, _, app = scope.partition("/")
    deps = record.get(env)
    if deps is None:
        return Files()
    return deps.shared_scope() if app == SHARED else deps.apps.get(app, Files())


def _pair(
    scope: str,
    diff: TreeDiff,
    record: Mapping[str, Dependencies],
    changed: Sequence[str],
    modules: Sequence[tuple[str, str]],
) -> Pair:
    files = scope_files(record, scope)
    why, considered = files.touched_by(changed)
    env = scope.partition("/")[0]
    used = tuple(m for e, m in modules if e == env and covers(files.uses, f"{MODULES}/{m}/"))
    return Pair(scope, diff.in_scope(scope), why, considered, used)
