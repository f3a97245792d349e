"""The recommended labels on every object, and probes on every in-cluster database."""

from __future__ import annotations

import pytest

from renderer.data import json_object
from renderer.render.kubernetes.labels import image_version, label_value
from tests.conftest import ROOT
from tests.k8s.helpers import dig, kube_objects, render

FIVE = ("name", "instance", "component", "part-of", "managed-by")
# What has no version of its own: namespaces, the environment's store, shared resources without a pod
UNVERSIONED = ("Namespace", "ClusterSecretStore", "SecretStore")


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, object]]:
    return {p: dict(o) for p, o in kube_objects(render(ROOT)).items() if not p.endswith("kustomization.yaml")}


def test_every_object_has_the_recommended_labels(objects: dict[str, dict[str, object]]) -> None:
    assert len(objects) > 140
    for path, obj in objects.items():
        labels = json_object(dig(obj, "metadata", "labels"))
        missing = [k for k in FIVE if f"app.kubernetes.io/{k}" not in labels]
        assert not missing, (path, missing)
        shared_without_pod = "/_shared/" in path and dig(obj, "spec", "template") is None
        # the namespace's tenancy objects (render/kubernetes/tenancy.py) serve every workload of the app
        tenancy = labels.get("app.kubernetes.io/component") in ("tenancy", "network-policy")
        if obj["kind"] not in UNVERSIONED and not shared_without_pod and not tenancy:
            assert "app.kubernetes.io/version" in labels, path


def test_kinds_the_issue_named_carry_name_and_part_of(objects: dict[str, dict[str, object]]) -> None:
    hpa = objects["kubernetes/prod/shop/web/horizontalpodautoscaler-web.yaml"]
    labels = json_object(dig(hpa, "metadata", "labels"))
    assert labels["app.kubernetes.io/name"] == "horizontal-pod-autoscaler"
    assert labels["app.kubernetes.io/part-of"] == "shop"
    # a resource without a pod is versioned with the workload that asked for it
    web = objects["kubernetes/prod/shop/web/deployment-web.yaml"]
    assert labels["app.kubernetes.io/version"] == dig(web, "metadata", "labels", "app.kubernetes.io/version")
    es = objects["kubernetes/prod/shop/api/externalsecret-api.yaml"]
    assert dig(es, "metadata", "labels", "app.kubernetes.io/instance") == "shop-api-prod"
    assert dig(es, "metadata", "labels", "app.kubernetes.io/component") == "workload"


def test_workload_version_is_the_main_container_image_tag(objects: dict[str, dict[str, object]]) -> None:
    api = objects["kubernetes/prod/shop/api/deployment-api.yaml"]
    containers = dig(api, "spec", "template", "spec", "containers")
    assert isinstance(containers, list)
    image = str(containers[0]["image"])
    assert dig(api, "metadata", "labels", "app.kubernetes.io/version") == image.rsplit(":", 1)[1]
    # the selector stays name and part-of: it is immutable, a version must not change it
    assert dig(api, "spec", "selector", "matchLabels") == {
        "app.kubernetes.io/name": "api",
        "app.kubernetes.io/part-of": "shop",
    }


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("registry.example.com:5000/team/api:1.4.2", "1.4.2"),
        ("registry.example.com:5000/team/api", "latest"),
        ("ghcr.io/x/y@sha256:" + "ab" * 32, "ab" * 6),
        ("ghcr.io/x/y:2.0@sha256:" + "ab" * 32, "2.0"),
        ("nginx:" + "v" * 100, label_value("v" * 100)),
        ("", None),
    ],
)
def test_image_version(image: str, version: str | None) -> None:
    assert image_version(image) == version


def test_label_value_is_valid_and_bounded() -> None:
    assert label_value("_a/b:c_") == "a-b-c"
    long = label_value("x" * 100)
    assert len(long) == 63 and long != label_value("x" * 101)


def test_every_in_cluster_database_has_probes(objects: dict[str, dict[str, object]]) -> None:
    databases = [
        (p, o)
        for p, o in objects.items()
        if o["kind"] == "StatefulSet"
        and "renderer.platform/resource-uid" in json_object(dig(o, "metadata", "annotations"))
    ]
    assert len(databases) >= 6
    for path, obj in databases:
        containers = dig(obj, "spec", "template", "spec", "containers")
        assert isinstance(containers, list) and containers, path
        for c in containers:
            assert "readinessProbe" in c and "livenessProbe" in c, path


def test_shipped_databases_probe_files() -> None:
    """The platform's in-cluster database definitions each declare both probes."""
    for path in sorted((ROOT / "platform-config" / "resources").glob("*-in-cluster.yaml")):
        text = path.read_text()
        if "kind: StatefulSet" in text:
            assert "readinessProbe:" in text and "livenessProbe:" in text, path.name
