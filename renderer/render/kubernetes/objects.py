"""The objects around the pod: controller, ServiceAccount, Service, ConfigMap, PodDisruptionBudget."""

from __future__ import annotations

from collections.abc import Mapping

from renderer.data import Json, KubeObject
from renderer.render.kubernetes.build import Build
from renderer.render.kubernetes.files import files_configmap_name
from renderer.render.kubernetes.labels import ANNOTATION_CHECKSUM, selector_for
from renderer.render.kubernetes.scaling import ANNOTATION_AUTOSCALER, Scale


def controller(
    b: Build,
    meta: Mapping[str, Json],
    pod: Mapping[str, Json],
    pod_meta: Mapping[str, Mapping[str, str]],
    scale: Scale,
) -> KubeObject:
    """The Deployment or StatefulSet the profile chooses; no `replicas` where an autoscaler owns them."""
    profile = b.profile
    spec: dict[str, Json] = {
        "selector": {"matchLabels": selector_for(b.wl)},
        "template": {"metadata": pod_meta, "spec": pod},
    }
    notes = {k: v for k, v in pod_meta["annotations"].items() if k != ANNOTATION_CHECKSUM}
    notes.update(profile.annotations)
    if scale.autoscaler:
        notes[ANNOTATION_AUTOSCALER] = f"HorizontalPodAutoscaler/{scale.autoscaler}"
    else:
        spec["replicas"] = profile.replicas
    if profile.workload_kind == "StatefulSet":
        spec["serviceName"] = b.wl.name
    return {
        "apiVersion": "apps/v1",
        "kind": profile.workload_kind,
        "metadata": {**meta, "annotations": notes},
        "spec": spec,
    }


def service_account(meta: Mapping[str, Json]) -> KubeObject:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta,
        "automountServiceAccountToken": False,
    }


def service(b: Build, meta: Mapping[str, Json]) -> KubeObject | None:
    ports = (b.wl.spec.get("service") or {}).get("ports") or {}
    if not ports:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": selector_for(b.wl),
            "ports": [
                {
                    "name": name,
                    "port": p["port"],
                    "targetPort": p.get("targetPort", p["port"]),
                    "protocol": p.get("protocol", "TCP"),
                }
                for name, p in sorted(ports.items())
            ],
        },
    }


def files_configmap(b: Build, meta: Mapping[str, Json]) -> KubeObject | None:
    if not b.files_data and not b.files_binary:
        return None
    cm: KubeObject = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {**meta, "name": files_configmap_name(b)},
    }
    if b.files_data:
        cm["data"] = b.files_data
    if b.files_binary:
        cm["binaryData"] = b.files_binary
    return cm


def disruption_budget(b: Build, meta: Mapping[str, Json]) -> KubeObject | None:
    budget = b.profile.disruption_budget
    if not budget:
        return None
    spec: dict[str, Json] = {}
    if "min_available" in budget:
        spec["minAvailable"] = budget["min_available"]
    if "max_unavailable" in budget:
        spec["maxUnavailable"] = budget["max_unavailable"]
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": {**spec, "selector": {"matchLabels": selector_for(b.wl)}},
    }
