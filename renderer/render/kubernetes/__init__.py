"""A workload, its profile and its resolved resources → the Kubernetes objects a careful engineer writes.

One module per concern: `containers` (and `quantities`), `files` (files and volumes), `secrets`
(ExternalSecret), `objects` (controller, ServiceAccount, Service, ConfigMap, PDB), `namespace`,
`labels`. `build.Build` carries one workload through them.
"""

from __future__ import annotations

from collections.abc import Mapping

from renderer.data import Json, KubeObject
from renderer.inputs.overrides import merge_patch_object
from renderer.model import Environment, Profile, Workload
from renderer.render.kubernetes import objects, observability
from renderer.render.kubernetes.build import Build
from renderer.render.kubernetes.containers import container, order_containers
from renderer.render.kubernetes.files import content_checksum
from renderer.render.kubernetes.labels import (
    ANNOTATION_CHECKSUM,
    ANNOTATION_IMAGE_TAG,
    ANNOTATION_SOURCE,
    VERSION,
    labels_for,
    main_image,
    selector_for,
)
from renderer.render.kubernetes.scaling import check_budget, scale_of
from renderer.render.kubernetes.secrets import SecretSink, external_secret
from renderer.resolve.nodes import Resolved, make_resolver


def render_workload(
    wl: Workload,
    env: Environment,
    profile: Profile,
    resources: Mapping[str, Resolved],
    images: Mapping[str, str],
    monitoring: bool = False,
    pins: Mapping[str, str] | None = None,
) -> list[KubeObject]:
    """Every object of one workload (resources' own objects are added by the caller); `monitoring`:
    the cluster runs the Prometheus Operator, so the profile's monitor and alert rules are written;
    `pins`: the digests of images (by tag) in an environment that pins them."""
    resolver = make_resolver(
        wl, {k: v.node.uid for k, v in resources.items()}, {v.node.uid: v for v in resources.values()}
    )
    b = Build(
        wl, env, profile, resources, images, resolver, SecretSink(f"{wl.name}-secrets"), pins=pins or {}
    )
    built = {cname: container(b, cname, c) for cname, c in sorted(wl.spec["containers"].items())}
    scale = scale_of(wl, profile, resources)
    check_budget(profile, scale, wl)
    init, main = order_containers(b, built)
    labels = labels_for(wl, env, profile, b.pinned.get(str(main[0]["name"])) or main_image(main))
    if (profile.observability or {}).get("opentelemetry"):
        observability.with_otel(main, observability.otel_env(wl, env, labels.get(VERSION)))
    # the renderer's own keys last, so nothing a workload says can replace them
    annotations = {**(wl.spec["metadata"].get("annotations") or {}), ANNOTATION_SOURCE: wl.origin}
    annotations.update({ANNOTATION_IMAGE_TAG + c: image for c, image in sorted(b.pinned.items())})
    meta: dict[str, Json] = {"name": wl.name, "namespace": env.namespace(wl.app), "labels": labels}
    checksum = content_checksum(b)
    pod_notes = {**annotations, ANNOTATION_CHECKSUM: checksum} if checksum else annotations
    found = [
        objects.controller(b, meta, _pod(b, init, main), {"labels": labels, "annotations": pod_notes}, scale),
        objects.service_account(meta),
        objects.service(b, meta),
        objects.files_configmap(b, meta),
        external_secret(meta, b.sink) if b.sink.data or b.sink.templates else None,
        objects.disruption_budget(b, meta),
        *(_monitoring(wl, env, profile, meta) if monitoring else []),
    ]
    return [_patch(o, profile) for o in found if o is not None]


def _monitoring(
    wl: Workload, env: Environment, profile: Profile, meta: Mapping[str, Json]
) -> list[KubeObject]:
    mon = observability.monitor(wl, profile, meta)
    if mon is None:
        return []
    rules = observability.alert_rules(wl, env, profile, meta, mon)
    return [mon] if rules is None else [mon, rules]


def _pod(b: Build, init: list[dict[str, Json]], main: list[dict[str, Json]]) -> dict[str, Json]:
    pod: dict[str, Json] = {
        "serviceAccountName": b.wl.name,
        "automountServiceAccountToken": False,
        "containers": main,
    }
    if b.volumes:
        pod["volumes"] = [b.volumes[k] for k in sorted(b.volumes)]
    if init:
        pod["initContainers"] = init
    profile = b.profile
    if profile.pod_security_context:
        pod["securityContext"] = dict(profile.pod_security_context)
    if profile.topology_spread:
        pod["topologySpreadConstraints"] = [
            {
                "topologyKey": t["topology_key"],
                "maxSkew": t.get("max_skew", 1),
                "whenUnsatisfiable": t.get("when_unsatisfiable", "ScheduleAnyway"),
                "labelSelector": {"matchLabels": selector_for(b.wl)},
            }
            for t in profile.topology_spread
        ]
    return pod


def _patch(obj: KubeObject, profile: Profile) -> KubeObject:
    for patch in profile.patches:
        if patch["kind"] == obj["kind"]:
            obj = merge_patch_object(obj, patch["merge"])
    return obj
