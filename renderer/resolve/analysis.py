"""One environment resolved: the graph, every node's outputs, and each workload's profile."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from renderer.errors import Collector
from renderer.model import App, Environment, Platform, Profile, Workload
from renderer.resolve import access
from renderer.resolve import graph as graphs
from renderer.resolve.access import PROFILE_ANNOTATION
from renderer.resolve.matching import match_profile
from renderer.resolve.nodes import Resolved, resolve


@dataclass(frozen=True, slots=True)
class Analysis:
    env: Environment
    workloads: tuple[Workload, ...]
    graph: graphs.Graph
    resolved: Mapping[str, Resolved]
    profiles: Mapping[tuple[str, str], Profile]  # (app, workload) → profile


def analyse(
    platform: Platform,
    apps: Sequence[App],
    env: Environment,
    owners: Mapping[str, str] | None = None,
    focus: Collection[str] | None = None,
    before: graphs.Before | None = None,
) -> Analysis:
    """Everything up to the objects: graph, resolved resources, profiles (explain, graph, render).

    `owners` are the shared resources' owners recorded by earlier publishes (uid → app). `focus`:
    the graph is whole, but only these apps' resources and shared ones are resolved: every shared
    one, or, given `before` (what the shared scope's last renders say), only those that can change
    (`graph.shared_to_resolve`; the others are kept as stored). The apps `before` names newer than
    their render here are left out of the graph: they request nothing here (their workloads are
    still every definition's `all_workloads`)."""
    _check_apps(platform, apps)
    workloads = tuple(w for app in apps for w in app.workloads_in(env.id))
    # apps ahead of their render here request nothing here: what their objects read stays as stored
    newer = frozenset(before.newer) if before is not None else frozenset()
    graphed = [w for w in workloads if w.app not in newer]
    graph = graphs.build(env, graphed, platform.definitions, owners)
    only = None
    if focus is not None:
        shared = (
            {u for u, n in graph.nodes.items() if n.shared}
            if before is None
            else graphs.shared_to_resolve(graph, focus, before.requested, before.stays)
        )
        only = shared | {u for u, n in graph.nodes.items() if n.app in focus}
    resolved = resolve(graph, workloads, only)
    return Analysis(env, workloads, graph, resolved, _profiles(platform, env, workloads))


def _check_apps(platform: Platform, apps: Sequence[App]) -> None:
    """Names, metadata keys and override environments: what an app may say before anything resolves."""
    problems = Collector()
    problems.extend(access.check_app_names(apps, platform.trust))
    for app in apps:
        for wl in app.workloads:
            problems.extend(list(access.check_metadata(wl, platform.trust)))
        for variant in app.variants.values():
            for wl in variant:
                problems.extend(list(access.check_metadata(wl, platform.trust)))
    known = ", ".join(sorted(platform.environments))
    for app in apps:
        for env_id in app.variants:
            if env_id not in platform.environments:
                problems.add(
                    app.override_files[env_id],
                    0,
                    "",
                    f"overrides for unknown environment '{env_id}'",
                    f"known: {known}",
                )
    problems.raise_if_any()


def _profiles(
    platform: Platform, env: Environment, workloads: Sequence[Workload]
) -> dict[tuple[str, str], Profile]:
    problems = Collector()
    profiles: dict[tuple[str, str], Profile] = {}
    for wl in workloads:
        klass = access.profile_class(wl, env, platform.trust, problems)
        if klass is None:
            continue
        profile = match_profile(klass, wl.app, env, platform.profiles)
        if profile is None:
            path = ("metadata", "annotations", PROFILE_ANNOTATION) if klass != "default" else ()
            problems.extend(
                [
                    wl.doc.problem(
                        path,
                        f"no workload profile of class '{klass}' applies to env {env.id} ({env.type})",
                        "add a profile in platform-config/profiles",
                    )
                ]
            )
        else:
            profiles[(wl.app, wl.name)] = profile
    problems.raise_if_any()
    return profiles
