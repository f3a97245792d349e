"""API versions per Kubernetes minor and operator release; custom resources against their CRD schemas."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import kubernetes_validate
import pytest

from renderer.checks import crdschema, kubeschema
from renderer.data import Json
from renderer.errors import InputError
from renderer.inputs import platform_config
from tests.conftest import ROOT
from tests.k8s.helpers import edit

TABLE = platform_config.load_platform(str(ROOT)).apis


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def _served(row_removed: str | None, row_introduced: str | None, minor: str) -> bool:
    return (row_removed is None or _key(minor) < _key(row_removed)) and (
        row_introduced is None or _key(row_introduced) <= _key(minor)
    )


@pytest.mark.parametrize("version", sorted(set(kubernetes_validate.utils.all_versions()), key=_key))
def test_table_agrees_with_the_kubernetes_schemas(version: str) -> None:
    """What the table says a minor serves is what that minor's published schema has."""
    minor = version.rsplit(".", 1)[0]
    for row in TABLE.kubernetes:
        assert row.kinds, row
        for kind in row.kinds:
            validator, _ = kubeschema._kubernetes(minor, row.group_version, kind)
            assert (validator is not None) == _served(row.removed, row.introduced, minor), (row, kind)


def test_every_supported_minor_has_a_schema_and_the_examples_use_them() -> None:
    assert TABLE.minors == ("1.35", "1.36", "1.37")
    assert all(kubeschema.schema_version(m) for m in TABLE.minors)
    envs = platform_config.load_platform(str(ROOT)).environments
    assert sorted({e.kubernetes_version for e in envs.values()}) == ["1.35", "1.36", "1.37"]


def test_environment_on_an_unsupported_minor_is_refused(project: Path) -> None:
    edit(project, "environments/prod.yaml", 'kubernetes_version: "1.35"', 'kubernetes_version: "1.31"')
    with pytest.raises(InputError) as err:
        platform_config.load_platform(str(project))
    (problem,) = err.value.problems()
    assert problem.file == "environments/prod.yaml" and problem.path == "cluster.kubernetes_version"
    assert problem.line > 0
    assert "Kubernetes 1.31 is not a minor the platform supports" in problem.message
    assert "platform-config/apis.yaml lists 1.35, 1.36, 1.37" in problem.message


def _hpa(api_version: str) -> dict[str, Json]:
    return {
        "apiVersion": api_version,
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "x"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 2},
    }


def _one(obj: dict[str, Json], minor: str = "1.35") -> kubeschema.SchemaReport:
    return kubeschema.check_documents({"kubernetes/dev/a/b/x.yaml": obj}, {"dev": minor}, TABLE)


@pytest.mark.parametrize(
    ("obj", "message", "hint"),
    [
        (
            _hpa("autoscaling/v2beta2"),
            "autoscaling/v2beta2/HorizontalPodAutoscaler is not served by Kubernetes 1.35: removed in 1.26",
            "use autoscaling/v2",
        ),
        (
            {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"}},
            "policy/v1beta1/PodDisruptionBudget is not served by Kubernetes 1.35: removed in 1.25",
            "use policy/v1",
        ),
        (
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "x"}},
            "v1/Endpoints is deprecated in Kubernetes 1.35 (since 1.33)",
            "use discovery.k8s.io/v1 EndpointSlice",
        ),
        (
            {
                "apiVersion": "external-secrets.io/v1beta1",
                "kind": "ExternalSecret",
                "metadata": {"name": "x"},
            },
            "external-secrets.io/v1beta1/ExternalSecret is not served by external-secrets 2.9.0: "
            "removed in 0.17.0",
            "use external-secrets.io/v1",
        ),
        (
            {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaTopic", "metadata": {"name": "x"}},
            "kafka.strimzi.io/v1beta2/KafkaTopic is not served by strimzi 1.2.0: removed in 1.0.0",
            "use kafka.strimzi.io/v1",
        ),
    ],
)
def test_removed_or_deprecated_api_is_a_schema_problem(obj: dict[str, Json], message: str, hint: str) -> None:
    report = _one(obj)
    assert [(p.path, p.message, p.hint) for p in report.problems] == [("apiVersion", message, hint)]
    assert report.checked == 0 and not report.unchecked


def test_built_in_api_the_minor_does_not_serve_is_a_problem() -> None:
    """The table's word on a version, and without a row the minor's own schema."""
    obj: dict[str, Json] = {"apiVersion": "networking.k8s.io/v1beta1", "kind": "IPAddress", "metadata": {}}
    (problem,) = _one(obj, "1.36").problems
    assert "is deprecated in Kubernetes 1.36 (since 1.33)" in problem.message
    (problem,) = _one(obj, "1.37").problems
    assert "not served by Kubernetes 1.37: removed in 1.37" in problem.message
    unknown: dict[str, Json] = {"apiVersion": "apps/v9", "kind": "Deployment", "metadata": {"name": "x"}}
    (problem,) = _one(unknown).problems
    assert problem.message == "apps/v9/Deployment is not served by Kubernetes 1.35.0"


def _external_secret(**spec: Json) -> dict[str, Json]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "x"},
        "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "s"}, **spec},
    }


def test_custom_resource_is_checked_against_its_crd_schema() -> None:
    good = _one(_external_secret(refreshInterval="1h", target={"name": "x", "creationPolicy": "Owner"}))
    assert good.problems == [] and good.checked == 1
    assert good.against == {"external-secrets 2.9.0"}
    bad = _one(_external_secret(refreshIntervall="1h", target={"creationPolicy": "Sometimes"}))
    found = {(p.path, p.message) for p in bad.problems}
    lead = "external-secrets.io/v1/ExternalSecret is not valid for external-secrets 2.9.0"
    assert (
        "spec",
        f"{lead}: Additional properties are not allowed ('refreshIntervall' was unexpected)",
    ) in found
    assert any(p == "spec.target.creationPolicy" and "'Sometimes' is not one of" in m for p, m in found)


def test_kafka_topic_config_keeps_unknown_keys_but_checks_the_rest() -> None:
    topic: dict[str, Json] = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t"},
        "spec": {"partitions": 0, "replicas": 1, "config": {"retention.ms": 1, "anything.goes": "x"}},
    }
    (problem,) = _one(topic).problems
    assert problem.path == "spec.partitions" and "0 is less than the minimum of 1" in problem.message


def test_unknown_custom_kind_is_reported_not_checked_by_name() -> None:
    obj: dict[str, Json] = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "c"},
    }
    report = _one(obj)
    assert report.problems == [] and report.checked == 0
    assert report.unchecked == {
        "cert-manager.io/v1/Certificate (no operator in the API table serves cert-manager.io)": 1
    }
    assert "not checked: cert-manager.io/v1/Certificate" in kubeschema.summary(report)


def test_operator_release_without_kept_schemas_is_reported_not_checked(project: Path) -> None:
    edit(project, "platform-config/apis.yaml", 'version: "1.2.0"', 'version: "1.3.0"')
    table = platform_config.load_platform(str(project)).apis
    obj: dict[str, Json] = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t"},
    }
    report = kubeschema.check_documents({"kubernetes/dev/a/b/x.yaml": obj}, {"dev": "1.35"}, table)
    assert report.unchecked == {
        "kafka.strimzi.io/v1/KafkaTopic (the renderer keeps no CRD schemas for strimzi 1.3.0)": 1
    }


def test_every_example_object_is_checked_and_valid() -> None:
    from renderer import pipeline
    from renderer.inputs import roots as settings

    inputs = settings.load(str(ROOT), [])
    rendered = pipeline.run(inputs.platform, inputs.apps, None, pipeline.Options())
    report = rendered.report.schema
    assert report.problems == [] and report.unchecked == {}
    assert report.checked == sum(
        1
        for p in rendered.tree
        if p.startswith(("kubernetes/", "clusters/")) and not p.endswith("kustomization.yaml")
    )
    assert report.against == {
        "Kubernetes 1.35.0",
        "Kubernetes 1.36.0",
        "Kubernetes 1.37.0",
        "external-secrets 2.9.0",
        "prometheus-operator 0.93.0",
        "strimzi 1.2.0",
        "flux-kustomize-controller 1.9.4",  # the entry points: dev and staging use Flux
        "argo-cd 3.5.1",  # prod uses Argo CD
    }


def _entry_point(kind: str, api_version: str, spec: dict[str, Json]) -> kubeschema.SchemaReport:
    obj: dict[str, Json] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    return kubeschema.check_documents({"clusters/dev/renderer/shop/x.yaml": obj}, {"dev": "1.35"}, TABLE)


def test_entry_points_are_checked_against_the_gitops_controllers_schemas() -> None:
    flux = {
        "interval": "10m",
        "path": "./kubernetes/dev/shop",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "env"},
    }
    assert _entry_point("Kustomization", "kustomize.toolkit.fluxcd.io/v1", flux).problems == []
    typo = _entry_point("Kustomization", "kustomize.toolkit.fluxcd.io/v1", {**flux, "prunne": True})
    assert [p.message for p in typo.problems] == [
        "kustomize.toolkit.fluxcd.io/v1/Kustomization is not valid for flux-kustomize-controller 1.9.4: "
        "Additional properties are not allowed ('prunne' was unexpected)"
    ]
    old = _entry_point("Kustomization", "kustomize.toolkit.fluxcd.io/v1beta2", flux)
    assert [(p.message, p.hint) for p in old.problems] == [
        (
            "kustomize.toolkit.fluxcd.io/v1beta2/Kustomization is not served by flux-kustomize-controller "
            "1.9.4: removed in 1.8.0",
            "use kustomize.toolkit.fluxcd.io/v1",
        )
    ]
    argo = {
        "project": "default",
        "destination": {"namespace": "shop"},
        "source": {"repoURL": "x", "path": "p"},
    }
    assert _entry_point("Application", "argoproj.io/v1alpha1", argo).problems == []
    missing = _entry_point("Application", "argoproj.io/v1alpha1", {"project": "default"})
    assert any("'destination' is a required property" in p.message for p in missing.problems), missing


def test_every_operator_release_in_the_table_has_its_schemas_and_a_notice() -> None:
    for operator in TABLE.operators:
        files = crdschema.shipped(operator.name, operator.version)
        assert files, operator
        folder = resources.files("renderer.checks").joinpath(f"crds/{operator.name}-{operator.version}")
        notice = folder.joinpath("NOTICE").read_text()
        assert "Source:" in notice and "License:" in notice and operator.version in notice
        for name in files:
            assert crdschema.validator(operator.name, operator.version, *_gvk(name)) is not None, name


def _gvk(file: str) -> tuple[str, str]:
    kind, rest = file.removesuffix(".json").split("-", 1)
    group, version = rest.rsplit("-", 1)
    return f"{group}/{version}", kind
