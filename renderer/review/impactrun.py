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
from renderer.resolve.analysis import Analysis, analyse
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
    head_view = HeadView.load(head_root, rendered)
    labels = (base[:12], WORK_TREE if head is None else head[:12])
    impact = assess(base_side, head_side, head_view.record(), changed, labels, sensitive_values(environ))
    return replace(impact, pictures=head_view.pictures(impact))


@dataclass(frozen=True, slots=True)
class HeadView:
    """The head side's platform and apps, each environment analysed once (this process's renderer:
    the head's own when the head is the work tree) for the dependency record and the pictures.
    Apps that do not resolve are left out: they fail anyway."""

    platform: Platform | None  # None: the head's platform config does not load
    apps: Sequence[App]
    analyses: Mapping[str, Analysis | None]  # env → all apps together; None: they do not resolve

    @classmethod
    def load(cls, root: str, apps: Sequence[App]) -> HeadView:
        try:
            platform = platform_config.load_platform(root)
        except InputError:
            return cls(None, apps, {})
        return cls(
            platform, apps, {env: _analysis(platform, apps, env) for env in sorted(platform.environments)}
        )

    def record(self) -> dict[str, Dependencies]:
        """The head's dependency record per environment."""
        if self.platform is None:
            return {}
        return {env: self._env_record(self.platform, env) for env in self.analyses}

    def _env_record(self, platform: Platform, env_id: str) -> Dependencies:
        whole = self.analyses[env_id]
        if whole is not None:
            return dependencies.record(platform, whole)
        parts = [
            dependencies.record(platform, a) for app in self.apps if (a := _analysis(platform, [app], env_id))
        ]
        return Dependencies(
            {k: v for p in parts for k, v in p.apps.items()},
            {k: v for p in parts for k, v in p.shared.items()},
        )

    def pictures(self, impact: Impact) -> dict[str, str]:
        """Per environment with a changed pair: the affected part of the head's resource graph as
        note Markdown (capped: see graphview). In focus: the workloads of changed apps and the
        resources whose definition file the change touches."""
        out = {}
        for env_id in sorted({p.scope.split("/", 1)[0] for p in impact.pairs}):
            analysis = self.analyses.get(env_id)
            if analysis is None:
                continue
            pairs = [p for p in impact.pairs if p.scope.startswith(f"{env_id}/")]
            changed_apps = {p.scope.split("/", 1)[1] for p in pairs}
            why = {f for p in pairs for f in p.why}
            graph = analysis.graph
            focus = {f"{app}/{wl}" for app, wl in graph.bindings if app in changed_apps}
            focus |= {uid for uid, node in graph.nodes.items() if node.definition.file in why}
            out[env_id] = graphview.mermaid(graph, only=focus)
        return out


def _analysis(platform: Platform, apps: Sequence[App], env_id: str) -> Analysis | None:
    try:
        return analyse(platform, apps, platform.environments[env_id])
    except InputError:
        return None
