"""One environment resolved: the graph, every node's outputs, and each workload's profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from renderer.errors import Collector
from renderer.model import App, Environment, Platform, Profile, Workload
from renderer.resolve import graph as graphs
from renderer.resolve.matching import match_profile
from renderer.resolve.nodes import Resolved, resolve

PROFILE_ANNOTATION = "renderer.platform/profile"


@dataclass(frozen=True, slots=True)
class Analysis:
    env: Environment
    workloads: tuple[Workload, ...]
    graph: graphs.Graph
    resolved: Mapping[str, Resolved]
    profiles: Mapping[tuple[str, str], Profile]  # (app, workload) → profile


def analyse(platform: Platform, apps: Sequence[App], env: Environment) -> Analysis:
    """Everything up to the objects: graph, resolved resources, profiles (explain, graph, render)."""
    _check_override_envs(platform, apps)
    workloads = tuple(w for app in apps for w in app.workloads_in(env.id))
    graph = graphs.build(env, workloads, platform.definitions)
    resolved = resolve(graph, workloads)
    return Analysis(env, workloads, graph, resolved, _profiles(platform, env, workloads))


def _check_override_envs(platform: Platform, apps: Sequence[App]) -> None:
    problems = Collector()
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
        klass = (wl.spec["metadata"].get("annotations") or {}).get(PROFILE_ANNOTATION, "default")
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
