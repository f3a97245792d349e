"""Controllers that do not fight: the autoscaler owns replicas, budgets let nodes drain, files roll pods."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from renderer.errors import InputError
from tests.k8s.helpers import dig, edit, kube_objects, render

WEB = "kubernetes/prod/shop/web"
API = "kubernetes/prod/shop/api"


def test_autoscaled_deployment_has_no_replica_count(project: Path) -> None:
    objects = kube_objects(render(project, ["prod"]))
    web = objects[f"{WEB}/deployment-web.yaml"]
    hpa = objects[f"{WEB}/horizontalpodautoscaler-web.yaml"]
    assert "replicas" not in json_spec(dig(web, "spec")) and dig(web, "spec", "selector")
    assert dig(web, "metadata", "annotations", "renderer.platform/autoscaled-by") == (
        "HorizontalPodAutoscaler/web"
    )
    assert dig(hpa, "spec", "minReplicas") == 2
    api = objects[f"{API}/deployment-api.yaml"]  # no autoscaler: the profile's count
    assert dig(api, "spec", "replicas") == 3
    assert "renderer.platform/autoscaled-by" not in json_spec(dig(api, "metadata", "annotations"))


def test_budget_allows_one_eviction_at_minimum_scale(project: Path) -> None:
    objects = kube_objects(render(project, ["prod"]))
    pdb = objects[f"{WEB}/poddisruptionbudget-web.yaml"]
    assert dig(pdb, "spec", "maxUnavailable") == 1 and dig(pdb, "spec", "minAvailable") is None


@pytest.mark.parametrize(
    ("budget", "why"),
    [
        ("min_available: 2", "allows no eviction at 2 pod(s) (the minimum HorizontalPodAutoscaler web sets)"),
        ("max_unavailable: 0", "allows no eviction at 2 pod(s)"),
        ('min_available: "100%"', "allows no eviction at 2 pod(s)"),
        ("max_unavailable: lots", "is not a count or a percentage"),
    ],
)
def test_budget_that_blocks_every_drain_is_refused(project: Path, budget: str, why: str) -> None:
    profile = "platform-config/profiles/production.yaml"
    edit(project, profile, "max_unavailable: 1", budget)
    with pytest.raises(InputError) as err:
        render(project, ["prod"])
    problem = next(p for p in err.value.problems() if "shop/web" in p.message)
    assert problem.file == profile and problem.path == "disruption_budget"
    assert why in problem.message
    assert "use max_unavailable: 1" in problem.hint


def test_budget_counts_against_the_profile_replicas_without_autoscaler(project: Path) -> None:
    edit(project, "platform-config/profiles/production.yaml", "max_unavailable: 1", "min_available: 3")
    with pytest.raises(InputError) as err:
        render(project, ["prod"])
    messages = [p.message for p in err.value.problems()]
    assert any("shop/api" in m and "(the minimum profile production sets)" in m for m in messages)


def test_autoscaler_for_another_kind_is_refused(project: Path) -> None:
    profile = "platform-config/profiles/production.yaml"
    edit(project, profile, "workload_kind: Deployment", "workload_kind: StatefulSet")
    with pytest.raises(InputError) as err:
        render(project, ["prod"])
    assert any(
        "hpa-cpu scales Deployment/web, but profile production renders web as a StatefulSet" in p.message
        for p in err.value.problems()
    )


def test_file_content_change_changes_the_pod_template(project: Path) -> None:
    path = f"{API}/deployment-api.yaml"
    before = kube_objects(render(project, ["prod"]))[path]
    edit(project, "examples/apps/shop/score.yaml", 'listen: ":8080"', 'listen: ":8081"')
    after = kube_objects(render(project, ["prod"]))[path]
    key = "renderer.platform/content-checksum"
    old = dig(before, "spec", "template", "metadata", "annotations", key)
    new = dig(after, "spec", "template", "metadata", "annotations", key)
    assert isinstance(old, str) and isinstance(new, str) and old != new
    assert dig(before, "spec", "template", "spec") == dig(after, "spec", "template", "spec")
    # the controller's own metadata does not carry it: only the pod template rolls
    assert key not in json_spec(dig(after, "metadata", "annotations"))


def test_source_file_change_changes_the_pod_template(project: Path) -> None:
    path = f"{API}/deployment-api.yaml"
    key = ("spec", "template", "metadata", "annotations", "renderer.platform/content-checksum")
    before = dig(kube_objects(render(project, ["prod"]))[path], *key)
    (project / "examples/apps/shop/config/logging.json").write_text('{"level": "debug"}\n')
    assert dig(kube_objects(render(project, ["prod"]))[path], *key) != before


def json_spec(value: object) -> dict[str, object]:
    """A mapping's keys and values (for `in` checks that must also see an absent section)."""
    return dict(value) if isinstance(value, Mapping) else {}
