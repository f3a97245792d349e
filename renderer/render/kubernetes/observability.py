"""Observability a profile adds per workload: a ServiceMonitor or PodMonitor for the workload's
declared metrics port, alert rules (PrometheusRule) from the profile's templates, and the
OpenTelemetry environment on every main container.

Monitors and rules are written only where the environment's cluster runs the Prometheus Operator
(`platform-config/apis.yaml`, `environments:` of the operator). Developer strings (the workload's
and app's names) reach the rule templates only as values in their context.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from renderer.data import Json, KubeObject
from renderer.errors import Problem
from renderer.model import Environment, MetricsSpec, Profile, Workload
from renderer.render.kubernetes.labels import selector_for
from renderer.resolve import templates

GROUP = "monitoring.coreos.com"
API_VERSION = f"{GROUP}/v1"
SCRAPER_NAMESPACE = "monitoring"  # where Prometheus runs: the NetworkPolicy lets it reach the port
ANNOTATION_SCRAPED_FROM = "renderer.platform/scraped-from"  # read by tenancy.network_policies


def metrics_port(wl: Workload, profile: Profile) -> tuple[MetricsSpec, int] | None:
    """The profile's metrics settings and the container port behind the workload's service port of
    that name; None when the profile asks for no monitor or the workload declares no such port."""
    spec = (profile.observability or {}).get("metrics")
    if spec is None:
        return None
    port = ((wl.spec.get("service") or {}).get("ports") or {}).get(spec["port"])
    if port is None:
        return None
    return spec, port.get("targetPort", port["port"])


def monitor(wl: Workload, profile: Profile, meta: Mapping[str, Json]) -> KubeObject | None:
    found = metrics_port(wl, profile)
    if found is None:
        return None
    spec, target = found
    endpoint: dict[str, Json] = {
        "path": spec.get("path", "/metrics"),
        "interval": spec.get("interval", "30s"),
    }
    notes = {ANNOTATION_SCRAPED_FROM: SCRAPER_NAMESPACE}
    body: dict[str, Json] = {"selector": {"matchLabels": selector_for(wl)}}
    if spec.get("monitor", "ServiceMonitor") == "ServiceMonitor":
        kind = "ServiceMonitor"
        body["endpoints"] = [{"port": spec["port"], **endpoint}]
    else:
        kind = "PodMonitor"
        body["podMetricsEndpoints"] = [{"portNumber": target, **endpoint}]
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {**meta, "annotations": notes},
        "spec": body,
    }


def job_of(obj: Mapping[str, Json], namespace: str, name: str) -> str:
    """The `job` label Prometheus gives the monitor's targets: the Service's name for a
    ServiceMonitor, `<namespace>/<name>` for a PodMonitor."""
    return name if obj["kind"] == "ServiceMonitor" else f"{namespace}/{name}"


def alert_rules(
    wl: Workload, env: Environment, profile: Profile, meta: Mapping[str, Json], mon: KubeObject
) -> KubeObject | None:
    """The profile's alert templates for one monitored workload, as one PrometheusRule."""
    rules = (profile.observability or {}).get("alerts") or []
    if not rules or profile.doc is None:
        return None
    namespace = env.namespace(wl.app)
    context = _context(wl.app, wl.name, env.id, namespace, job_of(mon, namespace, wl.name))
    labels = {"app": wl.app, "workload": wl.name, "environment": env.id}
    body = [_rule(profile, i, r, context, labels) for i, r in enumerate(rules)]
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": meta,
        "spec": {"groups": [{"name": f"{wl.app}.{wl.name}.red", "rules": body}]},
    }


def _context(app: str, workload: str, environment: str, namespace: str, job: str) -> dict[str, Json]:
    """What an alert template may use; the names are values in it, never template text."""
    return {
        "app": app,
        "workload": workload,
        "environment": environment,
        "namespace": namespace,
        "job": job,
        # PromQL string literals are JSON-compatible: a value is quoted, never spliced in as syntax
        "matchers": f"namespace={json.dumps(namespace)},job={json.dumps(job)}",
    }


def check_alerts(profiles: Sequence[Profile]) -> list[Problem]:
    """Render every profile's alert templates once with a stand-in workload, so a template error
    (syntax, a name the context lacks) is reported when the platform loads, in every environment,
    not first where a cluster runs the Prometheus Operator and a workload is monitored."""
    sample = _context("app", "workload", "environment", "app-namespace", "workload")
    labels = {"app": "app", "workload": "workload", "environment": "environment"}
    problems: list[Problem] = []
    for profile in profiles:
        rules = (profile.observability or {}).get("alerts") or []
        for i, rule in enumerate(rules if profile.doc is not None else []):
            try:
                _rule(profile, i, rule, sample, labels)
            except templates.TemplateFailure as exc:
                problems.extend(exc.problems())
    return problems


def _rule(
    profile: Profile, i: int, rule: Mapping[str, str], context: Mapping[str, Json], labels: Mapping[str, str]
) -> dict[str, Json]:
    doc = profile.doc
    assert doc is not None  # alert_rules renders none without it
    path = ("observability", "alerts", i)

    def text(key: str) -> str:
        return templates.render_text(doc, (*path, key), rule[key], context, "alert rule")

    notes = {k: text(k) for k in ("summary", "description") if k in rule}
    out: dict[str, Json] = {
        "alert": rule["alert"],
        "expr": text("expr"),
        "labels": {**labels, "severity": rule["severity"]},
        "annotations": notes,
    }
    if "for" in rule:
        out["for"] = rule["for"]
    return out


def otel_env(wl: Workload, env: Environment, version: str | None) -> list[dict[str, Json]]:
    """`OTEL_SERVICE_NAME` (the workload) and `OTEL_RESOURCE_ATTRIBUTES`: the app as
    `service.namespace`, the environment as `deployment.environment.name`, the version."""
    attributes = {"service.namespace": wl.app, "deployment.environment.name": env.id}
    if version:
        attributes["service.version"] = version
    value = ",".join(f"{k}={quote(v, safe='')}" for k, v in sorted(attributes.items()))
    return [
        {"name": "OTEL_SERVICE_NAME", "value": wl.name},
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": value},
    ]


def with_otel(containers: Sequence[dict[str, Json]], extra: Sequence[dict[str, Json]]) -> None:
    """Put the OpenTelemetry variables on each container, replacing any of the same name: the
    platform's attributes are what ownership and dashboards rely on."""
    names = {str(e["name"]) for e in extra}
    for c in containers:
        current = c.get("env")
        items = current if isinstance(current, list) else []
        kept = [e for e in items if not (isinstance(e, Mapping) and e.get("name") in names)]
        c["env"] = [*kept, *extra]
