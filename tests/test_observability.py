"""Observability by profile: monitors for a declared metrics port, RED alert rules from the profile's
templates, the OpenTelemetry environment; monitors and rules only where the cluster runs the
Prometheus Operator (platform-config/apis.yaml)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from renderer import pipeline
from renderer.checks import kubeschema
from renderer.data import Json, json_object
from renderer.errors import InputError
from renderer.inputs import platform_config
from renderer.inputs import roots as settings
from renderer.render.kubernetes.labels import VERSION
from tests.conftest import ROOT, edit

MONITORING = "monitoring.coreos.com/v1"


def _render(project: Path, envs: Sequence[str] | None = None) -> pipeline.Rendered:
    inputs = settings.load(str(project), [])
    return pipeline.run(inputs.platform, inputs.apps, envs, pipeline.Options())


@pytest.fixture(scope="module")
def rendered() -> pipeline.Rendered:
    return _render(ROOT)


def _objects(rendered: pipeline.Rendered) -> dict[str, dict[str, Json]]:
    return {
        p: dict(json_object(d))
        for e in rendered.envs
        for p, d in e.documents.items()
        if p.startswith("kubernetes/") and not p.endswith("kustomization.yaml")
    }


def test_monitors_and_rules_only_where_the_operator_runs(rendered: pipeline.Rendered) -> None:
    found = {p for p, o in _objects(rendered).items() if o["apiVersion"] == MONITORING}
    assert found == {
        f"kubernetes/{env}/{app}/{wl}/{kind}-{wl}.yaml"
        for env in ("staging", "prod")
        for app, wl in (("shop", "api"), ("billing", "ledger"))  # the two that declare `metrics`
        for kind in ("servicemonitor", "prometheusrule")
    }
    assert "prometheus-operator 0.93.0" in rendered.report.schema.against


def test_the_monitor_scrapes_the_declared_port(rendered: pipeline.Rendered) -> None:
    objects = _objects(rendered)
    monitor = objects["kubernetes/prod/shop/api/servicemonitor-api.yaml"]
    assert monitor["spec"] == {
        "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
        "selector": {"matchLabels": {"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "shop"}},
    }
    policy = objects["kubernetes/prod/shop/networkpolicy-renderer.allow-scrape-api.yaml"]
    rule = json_object(policy["spec"])["ingress"]
    assert rule == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"port": 9090, "protocol": "TCP"}],
        }
    ]


def test_red_rules_name_the_workload_as_data(rendered: pipeline.Rendered) -> None:
    rule = _objects(rendered)["kubernetes/staging/billing/ledger/prometheusrule-ledger.yaml"]
    (group,) = json_object(rule["spec"])["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert sorted(alerts) == ["HighErrorRatio", "HighLatency", "NoTraffic", "TargetDown"]
    assert alerts["TargetDown"]["expr"] == 'min(up{ namespace="billing-staging",job="ledger" }) == 0'
    assert alerts["TargetDown"]["labels"] == {
        "app": "billing",
        "environment": "staging",
        "severity": "ticket",
        "workload": "ledger",
    }
    assert alerts["HighErrorRatio"]["annotations"]["summary"] == (
        "billing/ledger in staging: more than 5% of requests fail"
    )


def _main_containers(obj: dict[str, Json]) -> list[dict[str, Json]]:
    pod = json_object(json_object(json_object(obj.get("spec")).get("template")).get("spec"))
    return [dict(json_object(c)) for c in pod.get("containers") or []]


def test_every_workload_container_has_the_opentelemetry_resource(rendered: pipeline.Rendered) -> None:
    seen = 0
    for path, obj in _objects(rendered).items():
        notes = json_object(json_object(obj["metadata"]).get("annotations"))
        if obj["kind"] not in ("Deployment", "StatefulSet") or "renderer.platform/source" not in notes:
            continue  # a workload's controller (resources' own StatefulSets are not services)
        env, app, workload = path.split("/")[1:4]
        version = json_object(json_object(obj["metadata"])["labels"]).get(VERSION)
        for container in _main_containers(obj):
            env_vars = {e["name"]: e.get("value") for e in container["env"]}
            assert env_vars["OTEL_SERVICE_NAME"] == workload, path
            attrs = dict(a.split("=", 1) for a in str(env_vars["OTEL_RESOURCE_ATTRIBUTES"]).split(","))
            assert {k: unquote(v) for k, v in attrs.items()} == {
                "deployment.environment.name": env,
                "service.namespace": app,
                "service.version": version,
            }, path
            seen += 1
    assert seen >= 15


def test_the_platform_attributes_replace_an_apps_own(project: Path) -> None:
    edit(
        project / "examples/apps/shop/score.yaml",
        "      POOL_SIZE:",
        "      OTEL_SERVICE_NAME: other\n      POOL_SIZE:",
    )
    rendered = _render(project, ["dev"])
    api = yaml.safe_load(rendered.tree["kubernetes/dev/shop/api/deployment-api.yaml"])
    names = [e["name"] for e in api["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names.count("OTEL_SERVICE_NAME") == 1
    assert names[-2:] == ["OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"]


def test_a_pod_monitor_scrapes_the_container_port(project: Path) -> None:
    edit(
        project / "platform-config/profiles/production.yaml", "monitor: ServiceMonitor", "monitor: PodMonitor"
    )
    rendered = _render(project, ["prod"])
    monitor = yaml.safe_load(rendered.tree["kubernetes/prod/shop/api/podmonitor-api.yaml"])
    assert monitor["spec"]["podMetricsEndpoints"] == [
        {"portNumber": 9090, "path": "/metrics", "interval": "30s"}
    ]
    rule = yaml.safe_load(rendered.tree["kubernetes/prod/shop/api/prometheusrule-api.yaml"])
    expr = rule["spec"]["groups"][0]["rules"][-1]["expr"]
    assert expr == 'min(up{ namespace="shop",job="shop/api" }) == 0'  # a PodMonitor's job


def test_an_environment_given_the_operator_gets_monitors(project: Path) -> None:
    edit(
        project / "platform-config/apis.yaml",
        "environments: [staging, prod]",
        "environments: [dev, staging, prod]",
    )
    rendered = _render(project, ["dev"])
    assert "kubernetes/dev/shop/api/servicemonitor-api.yaml" in rendered.tree


def test_the_schema_check_refuses_a_monitor_where_the_operator_does_not_run() -> None:
    platform = platform_config.load_platform(str(ROOT))
    monitor: Json = {
        "apiVersion": MONITORING,
        "kind": "ServiceMonitor",
        "metadata": {"name": "x", "namespace": "x"},
        "spec": {"selector": {}, "endpoints": []},
    }
    report = kubeschema.check_documents(
        {
            "kubernetes/dev/x/x/servicemonitor-x.yaml": monitor,
            "kubernetes/prod/x/x/servicemonitor-x.yaml": monitor,
        },
        {"dev": "1.37", "prod": "1.35"},
        platform.apis,
    )
    (problem,) = report.problems
    assert problem.file == "kubernetes/dev/x/x/servicemonitor-x.yaml"
    assert problem.message == (
        "monitoring.coreos.com/v1/ServiceMonitor: the dev cluster does not run prometheus-operator "
        "(platform-config/apis.yaml says where it runs)"
    )


def test_an_alert_template_error_names_the_profile_line(project: Path) -> None:
    profile = project / "platform-config/profiles/staging.yaml"
    edit(profile, "expr: min(up{ {{ matchers }} }) == 0", "expr: min(up{ {{ matchers }) == 0")
    line = next(i for i, t in enumerate(profile.read_text().splitlines(), 1) if "min(up{ {{ matchers })" in t)
    with pytest.raises(InputError) as caught:
        _render(project, ["staging"])
    problems = caught.value.problems()
    assert {(p.file, p.line) for p in problems} == {("platform-config/profiles/staging.yaml", line)}
    assert all(p.message.startswith("alert rule: template syntax error") for p in problems)
