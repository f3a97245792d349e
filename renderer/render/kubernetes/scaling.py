"""Who owns the replica count (the profile or an autoscaler); a disruption budget that lets nodes drain."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from renderer.data import Json, json_object, object_name
from renderer.errors import Problem
from renderer.model import DisruptionBudget, Profile, Workload
from renderer.render.kubernetes.build import RenderFailure
from renderer.resolve.nodes import Resolved

ANNOTATION_AUTOSCALER = "renderer.platform/autoscaled-by"


@dataclass(frozen=True, slots=True)
class Scale:
    """The workload's minimum number of pods, and the autoscaler that owns `replicas` (if any)."""

    minimum: int
    autoscaler: str = ""  # the HorizontalPodAutoscaler's name; empty: the profile sets replicas


def scale_of(wl: Workload, profile: Profile, resources: Mapping[str, Resolved]) -> Scale:
    """An HPA among the workload's resources that targets its controller owns the replica count:
    writing `replicas` beside it would reset the autoscaler on every sync."""
    for name, resolved in sorted(resources.items()):
        for obj in resolved.artifacts.objects:
            if obj.get("kind") != "HorizontalPodAutoscaler":
                continue
            spec = json_object(obj.get("spec"))
            target = json_object(spec.get("scaleTargetRef"))
            if target.get("name") != wl.name:
                continue
            if target.get("kind") != profile.workload_kind:
                raise RenderFailure(
                    wl.doc.problem(
                        ("resources", name),
                        f"{resolved.node.definition.id} scales {target.get('kind')}/{wl.name}, but "
                        f"profile {profile.id} renders {wl.name} as a {profile.workload_kind}",
                        "use an autoscaler definition for that kind, or another profile",
                    )
                )
            minimum = spec.get("minReplicas", 1)
            return Scale(minimum if isinstance(minimum, int) else 1, object_name(obj))
    return Scale(profile.replicas)


def check_budget(profile: Profile, scale: Scale, wl: Workload) -> None:
    """A budget that allows no eviction at the workload's minimum scale blocks every node drain."""
    budget = profile.disruption_budget
    if not budget:
        return
    allowed = _evictions(budget, scale.minimum)
    if allowed is not None and allowed > 0:
        return
    owner = f"HorizontalPodAutoscaler {scale.autoscaler}" if scale.autoscaler else f"profile {profile.id}"
    why = (
        "is not a count or a percentage"
        if allowed is None
        else f"allows no eviction at {scale.minimum} pod(s) (the minimum {owner} sets), "
        "so no node could be drained"
    )
    raise RenderFailure(
        Problem(
            profile.file,
            0,
            "disruption_budget",
            f"{wl.app}/{wl.name}: the disruption budget {dict(budget)} {why}",
            "use max_unavailable: 1, or a min_available below the minimum scale",
        )
    )


def _evictions(budget: DisruptionBudget, pods: int) -> int | None:
    """How many pods Kubernetes may evict when `pods` are healthy; None for a value it cannot read."""
    if "max_unavailable" in budget:
        return _count(budget["max_unavailable"], pods)
    if "min_available" in budget:
        needed = _count(budget["min_available"], pods)
        return None if needed is None else pods - needed
    return 1


def _count(value: Json, pods: int) -> int | None:
    """An int-or-percent of `pods`; the disruption controller rounds a percentage up."""
    text = str(value)
    if re.fullmatch(r"[0-9]+%", text):
        return math.ceil(int(text[:-1]) * pods / 100)
    return int(text) if re.fullmatch(r"[0-9]+", text) else None
