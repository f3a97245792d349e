"""spec.match as Gatekeeper decides it, the review Gatekeeper builds, and data.inventory; templates
written for these tests."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from renderer.checks.rego import gkmatch
from renderer.checks.rego.expansion import ExpansionError, expand
from renderer.checks.rego.gatekeeper import Admission, build_inventory, review_request
from renderer.checks.rego.policyset import EVALUATION
from renderer.data import Json
from renderer.model import Constraint, ConstraintTemplate, Expansion, PolicySource


def obj(kind: str, name: str, ns: str = "", api: str = "v1", labels: Mapping[str, str] | None = None) -> dict:
    meta: dict[str, Json] = {"name": name, "labels": dict(labels or {})}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": api, "kind": kind, "metadata": meta}


DEPLOY = obj("Deployment", "api", "shop", "apps/v1", {"tier": "web"})
SHOP = obj("Namespace", "shop", labels={"env": "prod"})
ROLE = obj("ClusterRole", "reader", api="rbac.authorization.k8s.io/v1")


@pytest.mark.parametrize(
    ("match", "target", "ns", "expected"),
    [
        ({}, DEPLOY, SHOP, True),
        ({"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}]}, DEPLOY, SHOP, True),
        ({"kinds": [{"apiGroups": [""], "kinds": ["Deployment"]}]}, DEPLOY, SHOP, False),  # group counts
        ({"kinds": [{"apiGroups": ["*"], "kinds": ["Deployment"]}]}, DEPLOY, SHOP, True),
        ({"kinds": [{"kinds": ["Deployment"]}]}, DEPLOY, SHOP, True),  # no groups: any group
        ({"kinds": [{"apiGroups": ["apps"], "kinds": ["StatefulSet"]}]}, DEPLOY, SHOP, False),
        ({"kinds": [{"apiGroups": ["apps"]}]}, DEPLOY, SHOP, True),  # no kinds: any kind
        ({"namespaces": ["shop"]}, DEPLOY, SHOP, True),
        ({"namespaces": ["sh*"]}, DEPLOY, SHOP, True),
        ({"namespaces": ["*op"]}, DEPLOY, SHOP, True),
        ({"namespaces": ["*ho*"]}, DEPLOY, SHOP, True),
        ({"namespaces": ["billing"]}, DEPLOY, SHOP, False),
        ({"namespaces": ["billing"]}, ROLE, None, True),  # cluster-scoped: namespaces do not apply
        ({"namespaces": ["shop"]}, SHOP, None, True),  # a Namespace is judged by its own name
        ({"excludedNamespaces": ["shop"]}, DEPLOY, SHOP, False),
        ({"excludedNamespaces": ["kube-*"]}, DEPLOY, SHOP, True),
        ({"excludedNamespaces": ["shop"]}, SHOP, None, False),
        ({"scope": "Cluster"}, DEPLOY, SHOP, False),
        ({"scope": "Cluster"}, ROLE, None, True),
        ({"scope": "Cluster"}, SHOP, None, True),
        ({"scope": "Namespaced"}, DEPLOY, SHOP, True),
        ({"scope": "Namespaced"}, SHOP, None, False),
        ({"scope": "*"}, ROLE, None, True),
        ({"labelSelector": {"matchLabels": {"tier": "web"}}}, DEPLOY, SHOP, True),
        ({"labelSelector": {"matchLabels": {"tier": "db"}}}, DEPLOY, SHOP, False),
        ({"labelSelector": {}}, DEPLOY, SHOP, True),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "web"]}]
                }
            },
            DEPLOY,
            SHOP,
            True,
        ),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]
                }
            },
            DEPLOY,
            SHOP,
            False,
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["x"]}]}},
            DEPLOY,
            SHOP,
            True,
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}},
            DEPLOY,
            SHOP,
            True,
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}},
            DEPLOY,
            SHOP,
            False,
        ),
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, DEPLOY, SHOP, True),
        ({"namespaceSelector": {"matchLabels": {"env": "dev"}}}, DEPLOY, SHOP, False),
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, SHOP, None, True),  # its own labels
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, ROLE, None, True),  # cluster-scoped
        ({"name": "ap*"}, DEPLOY, SHOP, True),
        ({"name": "web"}, DEPLOY, SHOP, False),
        ({"source": "Generated"}, DEPLOY, SHOP, False),  # rendered objects are originals
        ({"source": "All"}, DEPLOY, SHOP, True),
    ],
)
def test_match(match: dict, target: dict, ns: dict | None, expected: bool) -> None:
    assert gkmatch.matches(match, target, ns) is expected


def test_namespace_selector_without_the_namespace_cannot_be_decided() -> None:
    with pytest.raises(gkmatch.MatchError, match="needs the Namespace 'shop'"):
        gkmatch.matches({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, DEPLOY, None)


ECHO = """package echo

violation[{"msg": msg, "details": {"review": input.review}}] {
  msg := sprintf("%v %v/%v %v %v", [input.review.operation, input.review.kind.group, input.review.kind.kind,
    object.get(input.review, "namespace", "-"), input.parameters.note])
}
"""


def template(kind: str, rego: str, libs: tuple[str, ...] = ()) -> ConstraintTemplate:
    return ConstraintTemplate(kind, rego, libs, "t.yaml", 1)


def constraint(
    kind: str, name: str = "c", match: Mapping[str, Json] | None = None, action: str = "deny", **params: Json
) -> Constraint:
    return Constraint(kind, name, params, match or {}, action, "c.yaml", 1)


def test_review_is_the_admission_request_gatekeeper_builds() -> None:
    source = PolicySource({}, {}, {}, (template("Echo", ECHO),), (constraint("Echo", note="hi"),))
    admission = Admission(source, [("ns.yaml", SHOP), ("d.yaml", DEPLOY)])
    results, counts = admission.check([("d.yaml", DEPLOY), ("r.yaml", ROLE)])
    assert [r.message for r in results] == [
        "CREATE apps/Deployment shop hi",
        "CREATE rbac.authorization.k8s.io/ClusterRole - hi",
    ]
    details = results[0].metadata["details"]
    assert isinstance(details, Mapping)
    review = details["review"]
    assert review["namespaceObject"] == SHOP
    assert review["name"] == "api" and review["object"] == DEPLOY
    assert review["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert counts.failures == 2


def test_review_request_of_a_cluster_object_has_no_namespace() -> None:
    request = review_request(ROLE, None)
    assert "namespace" not in request and request["namespaceObject"] is None


INVENTORY = """package lib_user

import data.lib.names.full

violation[{"msg": msg}] {
  input.review.kind.kind == "Deployment"
  ns := input.review.object.metadata.namespace
  not data.inventory.namespace[ns]["policy/v1"].PodDisruptionBudget[input.review.object.metadata.name]
  msg := sprintf("%v has no PodDisruptionBudget", [full(input.review.object)])
}
"""
LIB = """package lib.names

full(o) := concat("/", [o.metadata.namespace, o.metadata.name])
"""


def test_inventory_is_every_object_given_and_libs_are_the_templates_own() -> None:
    pdb = obj("PodDisruptionBudget", "api", "shop", "policy/v1")
    other = obj("Deployment", "web", "shop", "apps/v1")
    source = PolicySource({}, {}, {}, (template("NeedsPdb", INVENTORY, (LIB,)),), (constraint("NeedsPdb"),))
    admission = Admission(source, [("a", DEPLOY), ("b", other), ("c", pdb)])
    results, _ = admission.check([("a", DEPLOY), ("b", other)])
    assert [(r.path, r.message) for r in results] == [("b", "shop/web has no PodDisruptionBudget")]
    assert build_inventory([pdb, ROLE]) == {
        "cluster": {"rbac.authorization.k8s.io/v1": {"ClusterRole": {"reader": ROLE}}},
        "namespace": {"shop": {"policy/v1": {"PodDisruptionBudget": {"api": pdb}}}},
    }


def test_actions_parameters_and_constraints_that_do_not_apply_here() -> None:
    constraints = (
        constraint("Echo", "a-deny", note="d"),
        constraint("Echo", "b-warn", action="warn", note="w"),
        constraint("Echo", "c-dryrun", action="dryrun", note="r"),
        constraint("Echo", "d-audit-only", action="", note="x"),  # scoped to other enforcement points
        constraint("Echo", "e-other-kind", match={"kinds": [{"kinds": ["Pod"]}]}, note="p"),
    )
    source = PolicySource({}, {}, {}, (template("Echo", ECHO),), constraints)
    results, counts = Admission(source).check([("d.yaml", DEPLOY)])
    assert [(r.rule, r.kind, r.message) for r in results] == [
        ("a-deny", "failure", "CREATE apps/Deployment shop d"),
        ("b-warn", "warning", "CREATE apps/Deployment shop w"),
        ("c-dryrun", "warning", "CREATE apps/Deployment shop r (dryrun)"),
    ]
    assert (counts.failures, counts.warnings, counts.successes) == (1, 2, 1)


def test_a_template_that_fails_on_an_object_fails_closed() -> None:
    broken = 'package broken\n\nviolation[{"msg": msg}] {\n  msg := sprintf("%v", [1 / 0])\n}\n'
    source = PolicySource({}, {}, {}, (template("Broken", broken),), (constraint("Broken", action="warn"),))
    results, _ = Admission(source).check([("d.yaml", DEPLOY)])
    assert [(r.rule, r.kind) for r in results] == [(EVALUATION, "failure")]
    assert results[0].message.startswith("evaluation failed for Broken/c: t.yaml#rego:4:")


def test_namespace_selector_on_an_unrendered_namespace_fails_closed() -> None:
    match = {"namespaceSelector": {"matchLabels": {"env": "prod"}}}
    source = PolicySource({}, {}, {}, (template("Echo", ECHO),), (constraint("Echo", match=match, note="n"),))
    results, _ = Admission(source).check([("d.yaml", DEPLOY)])
    assert [r.rule for r in results] == [EVALUATION]
    assert "needs the Namespace 'shop', which this render does not hold" in results[0].message


PODS = Expansion(
    "expand-workloads",
    (
        (frozenset({"apps"}), frozenset({"v1"}), frozenset({"Deployment"})),
        (frozenset({"batch"}), frozenset({"v1"}), frozenset({"Job"})),
    ),
    ("spec", "template"),
    ("", "v1", "Pod"),
    "",
    "e.yaml",
    1,
)
JOBS = Expansion(
    "expand-cronjobs",
    ((frozenset({"batch"}), frozenset({"v1"}), frozenset({"CronJob"})),),
    ("spec", "jobTemplate"),
    ("batch", "v1", "Job"),
    "warn",
    "e.yaml",
    2,
)


def workload(kind: str, api: str, spec: dict) -> dict:
    return {**obj(kind, "Nightly", "shop", api), "spec": spec}


def test_expansion_builds_the_object_gatekeeper_builds() -> None:
    deploy = workload(
        "Deployment",
        "apps/v1",
        {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}},
    )
    [(template, pod)] = expand(deploy, (PODS, JOBS))
    assert template is PODS
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "labels": {"a": "b"},
            "namespace": "shop",
            "name": "nightly-pod",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "Nightly"}],
        },
        "spec": {"containers": []},
    }
    assert expand(obj("Service", "s", "shop"), (PODS, JOBS)) == []
    assert expand(workload("Deployment", "apps/v1beta1", {"template": {}}), (PODS,)) == []  # versions count


def test_expansion_recurses_and_refuses_loops_and_missing_sources() -> None:
    cron = workload(
        "CronJob", "batch/v1", {"jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}
    )
    found = expand(cron, (PODS, JOBS))
    assert [(t.name, o["kind"], o["metadata"]["name"]) for t, o in found] == [  # type: ignore[index]
        ("expand-workloads", "Pod", "nightly-job-pod"),
        ("expand-cronjobs", "Job", "nightly-job"),
    ]
    loop = Expansion(
        "loop",
        ((frozenset({"apps"}), frozenset({"v1"}), frozenset({"Deployment"})),),
        ("spec",),
        ("apps", "v1", "Deployment"),
        "",
        "e.yaml",
        1,
    )
    nested: dict = {}
    for _ in range(31):  # a Deployment whose spec holds a Deployment whose spec holds…
        nested = {"spec": nested}
    with pytest.raises(ExpansionError, match="nest deeper than 30"):
        expand(workload("Deployment", "apps/v1", nested), (loop,))
    with pytest.raises(
        ExpansionError, match="expand-workloads: no field spec.template in Deployment Nightly"
    ):
        expand(workload("Deployment", "apps/v1", {}), (PODS,))


POD_ONLY = """package podonly

violation[{"msg": msg}] {
  c := input.review.object.spec.containers[_]
  c.securityContext.privileged
  o := input.review.object
  msg := sprintf("%v %v: %v is privileged", [input.review.kind.kind, o.metadata.name, c.name])
}
"""


def test_implied_objects_are_reviewed_and_reported_on_the_rendered_one() -> None:
    containers = [{"name": "app", "securityContext": {"privileged": True}}]
    cron = workload(
        "CronJob", "batch/v1", {"jobTemplate": {"spec": {"template": {"spec": {"containers": containers}}}}}
    )
    constraints = (
        constraint("PodOnly", "pods", match={"kinds": [{"kinds": ["Pod"]}]}),
        constraint("PodOnly", "originals", match={"source": "Original"}),
        constraint(
            "PodOnly",
            "generated",
            match={"kinds": [{"kinds": ["Pod"]}], "source": "Generated"},
            action="dryrun",
        ),
    )
    source = PolicySource({}, {}, {}, (template("PodOnly", POD_ONLY),), constraints, (PODS, JOBS))
    results, _ = Admission(source, [("ns", SHOP)]).check([("cron.yaml", cron)])
    assert [(r.path, r.rule, r.kind, r.message) for r in results] == [
        (
            "cron.yaml",
            "generated",
            "warning",
            "[Implied by expand-workloads] Pod nightly-job-pod: app is privileged (dryrun)",
        ),
        (
            "cron.yaml",
            "pods",
            "failure",
            "[Implied by expand-workloads] Pod nightly-job-pod: app is privileged",
        ),
    ]
    # the expansion's own action replaces the constraint's on what it implies
    job = {**workload("CronJob", "batch/v1", {"jobTemplate": {"spec": {"containers": containers}}})}
    jobs_only = (constraint("PodOnly", "jobs", match={"kinds": [{"kinds": ["Job"]}]}),)
    source = PolicySource({}, {}, {}, (template("PodOnly", POD_ONLY),), jobs_only, (JOBS,))
    results, _ = Admission(source).check([("cron.yaml", job)])
    assert [(r.kind, r.message) for r in results] == [
        ("warning", "[Implied by expand-cronjobs] Job nightly-job: app is privileged")
    ]


def test_an_object_an_expansion_cannot_expand_fails_closed() -> None:
    source = PolicySource({}, {}, {}, (template("PodOnly", POD_ONLY),), (constraint("PodOnly"),), (PODS,))
    results, counts = Admission(source).check([("d.yaml", workload("Deployment", "apps/v1", {}))])
    assert [(r.namespace, r.rule, r.kind) for r in results] == [("ExpansionTemplate", EVALUATION, "failure")]
    assert "no field spec.template" in results[0].message and counts.failures == 1
