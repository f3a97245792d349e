"""`impact` end to end: check out the base (and head) commit, render both sides, record the head's
dependencies, and assess. The apps come from the environment repo (`.render/apps/`), loaded by
the caller; this module reads the platform repo, runs renderers and never writes outside `workdir`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from renderer.checks.secrets import sensitive_values
from renderer.errors import InputError
from renderer.inputs import platform_config
from renderer.model import App, Platform
from renderer.resolve import dependencies
from renderer.resolve.analysis import analyse
from renderer.resolve.dependencies import Dependencies
from renderer.review import graphview, sides
from renderer.review.impact import Impact, assess

WORK_TREE = "the work tree"


@dataclass(frozen=True, slots=True)
class Request:
    root: str  # the platform-config repo (a git work tree)
    base: str  # a ref
    head: str | None  # a ref; None: the work tree, uncommitted changes included
    apps: Mapping[str, App]  # app id → the app as the environment repo stores it
    app_dirs: Mapping[str, str]  # app id → its stored folder (what the renderers read)
    env_repo: str = ""  # the environment repo's checkout the apps were read from


def run(req: Request, workdir: str, environ: Mapping[str, str]) -> Impact:
    base = sides.commit_of(req.root, req.base, environ)
    head = sides.commit_of(req.root, req.head, environ) if req.head is not None else None
    changed = sides.changed_files(req.root, base, head, environ)
    base_root = sides.checkout(req.root, base, os.path.join(workdir, "base"), environ)
    head_root = (
        req.root if head is None else sides.checkout(req.root, head, os.path.join(workdir, "head"), environ)
    )
    out = os.path.join(workdir, "out")
    os.makedirs(out, exist_ok=True)
    runner = sides.Runner(environ, out, hide=(workdir, base_root, head_root, req.env_repo))
    base_side, head_side = sides.render_sides(runner, (base_root, head_root), req.app_dirs)
    failing = set(head_side.failures)
    rendered = [a for k, a in sorted(req.apps.items()) if k not in failing]
    record = head_record(head_root, rendered)
    labels = (base[:12], WORK_TREE if head is None else head[:12])
    impact = assess(base_side, head_side, record, changed, labels, sensitive_values(environ))
    return replace(impact, pictures=pictures(head_root, rendered, impact))


def pictures(root: str, apps: Sequence[App], impact: Impact) -> dict[str, str]:
    """Per environment with a changed pair: the affected part of the head's resource graph as
    note Markdown (capped: see graphview). In focus: the workloads of changed apps and the
    resources whose definition file the change touches."""
    envs = sorted({p.scope.split("/", 1)[0] for p in impact.pairs})
    try:
        platform = platform_config.load_platform(root)
    except InputError:
        return {}
    out = {}
    for env_id in (e for e in envs if e in platform.environments):
        changed_apps = {p.scope.split("/", 1)[1] for p in impact.pairs if p.scope.startswith(f"{env_id}/")}
        why = {f for p in impact.pairs if p.scope.startswith(f"{env_id}/") for f in p.why}
        try:
            graph = analyse(platform, apps, platform.environments[env_id]).graph
        except InputError:
            continue
        focus = {f"{app}/{wl}" for app, wl in graph.bindings if app in changed_apps}
        focus |= {uid for uid, node in graph.nodes.items() if node.definition.file in why}
        out[env_id] = graphview.mermaid(graph, only=focus)
    return out


def head_record(root: str, apps: Sequence[App]) -> dict[str, Dependencies]:
    """The dependency record of the head side, per environment (this process's renderer: the head's
    own when the head is the work tree). Apps that do not resolve are left out: they fail anyway."""
    try:
        platform = platform_config.load_platform(root)
    except InputError:
        return {}
    return {env: _env_record(platform, apps, env) for env in sorted(platform.environments)}


def _env_record(platform: Platform, apps: Sequence[App], env_id: str) -> Dependencies:
    env = platform.environments[env_id]
    try:
        return dependencies.record(platform, analyse(platform, apps, env))
    except InputError:
        pass
    parts = []
    for app in apps:
        try:
            parts.append(dependencies.record(platform, analyse(platform, [app], env)))
        except InputError:
            continue
    return Dependencies(
        {k: v for p in parts for k, v in p.apps.items()}, {k: v for p in parts for k, v in p.shared.items()}
    )
