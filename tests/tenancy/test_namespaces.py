"""Every app namespace: Pod Security `restricted` (and pods that meet it), default-deny ingress with
an allowance per Service and per routed port, a quota that is the sum of its workloads' profiles."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from renderer.data import Json, json_object
from renderer.render.kubernetes.quotas import milli
from renderer.render.tree import SHARED
from tests.conftest import ROOT
from tests.k8s.helpers import dig, render

VERSIONS = {"dev": "v1.37", "staging": "v1.36", "prod": "v1.35"}


@pytest.fixture(scope="module")
def documents() -> dict[str, Json]:
    return render(ROOT)


def _scopes(documents: Mapping[str, Json]) -> dict[tuple[str, str], list[Mapping[str, Json]]]:
    out: dict[tuple[str, str], list[Mapping[str, Json]]] = {}
    for path, doc in sorted(documents.items()):
        parts = path.split("/")
        if parts[0] == "kubernetes" and parts[2] != SHARED and path.endswith(".yaml"):
            out.setdefault((parts[1], parts[2]), []).append(json_object(doc))
    return out


def _kind(objects: list[Mapping[str, Json]], kind: str) -> list[Mapping[str, Json]]:
    return [o for o in objects if o.get("kind") == kind]


def test_every_app_namespace_enforces_restricted(documents: dict[str, Json]) -> None:
    scopes = _scopes(documents)
    assert len(scopes) == 6
    for (env, app), objects in scopes.items():
        (ns,) = _kind(objects, "Namespace")
        labels = json_object(dig(ns, "metadata", "labels"))
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", (env, app)
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == VERSIONS[env]


def test_every_pod_in_an_app_namespace_meets_restricted(documents: dict[str, Json]) -> None:
    """What the restricted profile checks of our pods: non-root, RuntimeDefault seccomp, no privilege
    escalation, every capability dropped (a pod that fails would be refused at admission)."""
    pods = 0
    for (env, app), objects in _scopes(documents).items():
        for obj in objects:
            pod = json_object(dig(obj, "spec", "template", "spec"))
            if not pod:
                continue
            pods += 1
            psc = json_object(pod.get("securityContext"))
            where = (env, app, dig(obj, "metadata", "name"))
            assert psc.get("runAsNonRoot") is True, where
            assert json_object(psc.get("seccompProfile")).get("type") == "RuntimeDefault", where
            containers = [*json_list(pod.get("containers")), *json_list(pod.get("initContainers"))]
            for c in containers:
                sc = json_object(json_object(c).get("securityContext"))
                assert sc.get("allowPrivilegeEscalation") is False, where
                assert json_list(json_object(sc.get("capabilities")).get("drop")) == ["ALL"], where
    assert pods > 20


def json_list(value: Json) -> list[Json]:
    return list(value) if isinstance(value, list | tuple) else []


def test_default_deny_and_an_allowance_per_service_and_route(documents: dict[str, Json]) -> None:
    routed = 0
    for objects in _scopes(documents).values():
        policies = {str(dig(p, "metadata", "name")): p for p in _kind(objects, "NetworkPolicy")}
        deny = policies["renderer.default-deny-ingress"]
        assert dig(deny, "spec") == {"podSelector": {}, "policyTypes": ["Ingress"]}
        for svc in _kind(objects, "Service"):
            name = str(dig(svc, "metadata", "name"))
            allow = policies[f"renderer.allow-app-to-{name}"]
            assert dig(allow, "spec", "podSelector", "matchLabels") == dig(svc, "spec", "selector")
            (rule,) = json_list(dig(allow, "spec", "ingress"))
            assert json_object(rule)["from"] == [{"podSelector": {}}]  # only pods of this namespace
        for ing in _kind(objects, "Ingress"):
            for rule in json_list(dig(ing, "spec", "rules")):
                for path in json_list(dig(rule, "http", "paths")):
                    backend = json_object(dig(path, "backend", "service"))
                    port = json_object(backend["port"])["number"]
                    allow = policies[f"renderer.allow-ingress-to-{backend['name']}-{port}"]
                    peer = json_object(json_list(dig(allow, "spec", "ingress"))[0])["from"]
                    controller = {"kubernetes.io/metadata.name": "ingress-nginx"}
                    assert peer == [{"namespaceSelector": {"matchLabels": controller}}]
                    routed += 1
    assert routed >= 3


def test_the_quota_is_the_sum_of_the_workloads_profiles(documents: dict[str, Json]) -> None:
    objects = _scopes(documents)[("prod", "shop")]
    (quota,) = _kind(objects, "ResourceQuota")
    hard = json_object(dig(quota, "spec", "hard"))
    workloads = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet") and _is_workload(o)]
    n = len(workloads)
    assert n == 3  # api, web, worker: all on the production profile (4 CPU, 4Gi, 16Gi, 20 pods each)
    assert milli(hard["requests.cpu"]) == n * milli("4")
    assert milli(hard["requests.memory"]) == n * milli("4Gi")
    assert milli(hard["limits.memory"]) == n * milli("16Gi")
    assert hard["pods"] == str(n * 20)
    (limits,) = _kind(objects, "LimitRange")
    (limit,) = json_list(dig(limits, "spec", "limits"))
    assert json_object(limit)["max"] == {"cpu": "4", "memory": "8Gi"}


def _is_workload(obj: Mapping[str, Json]) -> bool:
    """Score workloads carry the Score source annotation; in-cluster databases do not."""
    notes = json_object(dig(obj, "metadata", "annotations"))
    return not any(k.endswith("resource-uid") for k in notes)
