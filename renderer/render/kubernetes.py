"""A workload, its profile and its resolved resources → the Kubernetes objects a careful engineer writes."""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from renderer.errors import InputError
from renderer.inputs.overrides import merge_patch
from renderer.inputs.placeholders import RefError, Segment, expand
from renderer.inputs.score import volume_resource
from renderer.model import Environment, Profile, SecretRef, Workload
from renderer.resolve.graph import stable_id
from renderer.resolve.nodes import Resolved, make_resolver

MANAGED_BY = {"app.kubernetes.io/managed-by": "platform-renderer"}
ANNOTATION_SOURCE = "renderer.platform/source"
ANNOTATION_UID = "renderer.platform/resource-uid"
SECRET_STORE = "aws-secrets-manager"
_K8S_DOLLAR = re.compile(r"\$(?=[$(])")


class RenderFailure(InputError):
    """A workload that cannot become Kubernetes objects as written."""


@dataclass(slots=True)
class _SecretSink:
    """Secret references a workload uses; they become one ExternalSecret and Secret."""

    secret_name: str
    data: dict[str, tuple[str, str]] = field(default_factory=dict)  # key → (path, property)
    templates: dict[str, str] = field(default_factory=dict)  # key → ESO template text

    def key_for(self, ref: SecretRef) -> str:
        key = f"{ref.path.rsplit('/', 2)[-2]}-{ref.path.rsplit('/', 1)[-1]}.{ref.key}"
        key = re.sub(r"[^-._a-zA-Z0-9]", "-", key)
        self.data[key] = (ref.path, ref.key)
        return key

    def selector(self, ref: SecretRef) -> dict[str, Any]:
        if ref.secret:
            return {"name": ref.secret, "key": ref.key}
        return {"name": self.secret_name, "key": self.key_for(ref)}


def k8s_escape(text: str) -> str:
    """Literal text where kubelet expands `$(VAR)`: developer strings stay data."""
    return _K8S_DOLLAR.sub("$$", text)


def labels_for(wl: Workload, profile: Profile | None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": wl.name, "app.kubernetes.io/part-of": wl.app, **MANAGED_BY}
    if profile:
        labels = {**profile.labels, **labels}
    return labels


def selector_for(wl: Workload) -> dict[str, str]:
    return {"app.kubernetes.io/name": wl.name, "app.kubernetes.io/part-of": wl.app}


def render_workload(
    wl: Workload,
    env: Environment,
    profile: Profile,
    resources: Mapping[str, Resolved],
    images: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Every object of one workload (resources' own objects are added by the caller)."""
    namespace = env.namespace(wl.app)
    spec = wl.spec
    sink = _SecretSink(f"{wl.name}-secrets")
    resolver = make_resolver(
        wl,
        {k: v.node.uid for k, v in resources.items()},
        {v.node.uid: v for v in resources.values()},
    )
    labels = labels_for(wl, profile)
    annotations = {ANNOTATION_SOURCE: wl.origin, **(spec["metadata"].get("annotations") or {})}
    files_cm: dict[str, Any] = {"data": {}, "binaryData": {}}
    volumes: dict[str, dict[str, Any]] = {}
    containers: dict[str, dict[str, Any]] = {}
    for cname, c in sorted(spec["containers"].items()):
        containers[cname] = _container(
            wl, cname, c, profile, resolver, sink, files_cm, volumes, resources, images
        )
    init, main = _order_containers(wl, env, spec["containers"], containers)
    pod: dict[str, Any] = {
        "serviceAccountName": wl.name,
        "automountServiceAccountToken": False,
        "containers": main,
        "volumes": [volumes[k] for k in sorted(volumes)],
    }
    if init:
        pod["initContainers"] = init
    if profile.pod_security_context:
        pod["securityContext"] = dict(profile.pod_security_context)
    if profile.topology_spread:
        pod["topologySpreadConstraints"] = [
            {
                "topologyKey": t["topology_key"],
                "maxSkew": t.get("max_skew", 1),
                "whenUnsatisfiable": t.get("when_unsatisfiable", "ScheduleAnyway"),
                "labelSelector": {"matchLabels": selector_for(wl)},
            }
            for t in profile.topology_spread
        ]
    if not pod["volumes"]:
        del pod["volumes"]
    meta = {"name": wl.name, "namespace": namespace, "labels": labels}
    workload_obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": profile.workload_kind,
        "metadata": {**meta, "annotations": {**annotations, **profile.annotations}},
        "spec": {
            "replicas": profile.replicas,
            "selector": {"matchLabels": selector_for(wl)},
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod},
        },
    }
    if profile.workload_kind == "StatefulSet":
        workload_obj["spec"]["serviceName"] = wl.name
    objects = [
        workload_obj,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta,
            "automountServiceAccountToken": False,
        },
    ]
    ports = (spec.get("service") or {}).get("ports") or {}
    if ports:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {
                    "selector": selector_for(wl),
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
        )
    if files_cm["data"] or files_cm["binaryData"]:
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {**meta, "name": f"{wl.name}-files"},
        }
        cm.update({k: v for k, v in files_cm.items() if v})
        objects.append(cm)
    if sink.data or sink.templates:
        objects.append(_external_secret(meta, sink))
    if profile.disruption_budget:
        budget = {
            "minAvailable" if k == "min_available" else "maxUnavailable": v
            for k, v in sorted(profile.disruption_budget.items())
        }
        objects.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": meta,
                "spec": {**budget, "selector": {"matchLabels": selector_for(wl)}},
            }
        )
    return [_patch(o, profile) for o in objects]


def _patch(obj: dict[str, Any], profile: Profile) -> dict[str, Any]:
    for patch in profile.patches:
        if patch["kind"] == obj["kind"]:
            obj = merge_patch(obj, patch["merge"])
    return obj


def _external_secret(meta: dict[str, Any], sink: _SecretSink) -> dict[str, Any]:
    target: dict[str, Any] = {"name": sink.secret_name, "creationPolicy": "Owner"}
    if sink.templates:
        # With a template, ESO writes only templated keys: carry plain keys through as well.
        data = {k: _go_index(k) for k in sorted(sink.data)}
        data.update(sink.templates)
        target["template"] = {"engineVersion": "v2", "data": data}
    return {
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ExternalSecret",
        "metadata": {**meta, "name": meta["name"]},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
            "target": target,
            "data": [
                {"secretKey": k, "remoteRef": {"key": path, "property": prop}}
                for k, (path, prop) in sorted(sink.data.items())
            ],
        },
    }


def _go_index(key: str) -> str:
    """`{{ index . "key" }}`: an ESO template reading one key of the fetched data."""
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')
    return "{{ index . " + f'"{quoted}"' + " }}"


def _expand(wl: Workload, path: tuple[Any, ...], text: str, resolver: Any) -> list[Segment]:
    try:
        return expand(text, resolver)
    except RefError as exc:
        raise RenderFailure(wl.doc.problem(path, str(exc))) from None


def _env_vars(
    wl: Workload,
    cname: str,
    c: dict[str, Any],
    resolver: Any,
    sink: _SecretSink,
    helpers: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    out = []
    for name, value in sorted((c.get("variables") or {}).items()):
        parts = _expand(wl, ("containers", cname, "variables", name), value, resolver)
        if len(parts) == 1 and isinstance(parts[0], SecretRef):
            out.append({"name": name, "valueFrom": {"secretKeyRef": sink.selector(parts[0])}})
        else:
            out.append({"name": name, "value": _join_k8s(parts, sink, helpers)})
    return out


def _join_k8s(parts: list[Segment], sink: _SecretSink, helpers: dict[str, dict[str, Any]]) -> str:
    """Literal text escaped; each secret becomes `$(HELPER)`, a secret-backed variable defined first."""
    text = ""
    for part in parts:
        if isinstance(part, SecretRef):
            selector = sink.selector(part)
            helper = "SECRET_" + stable_id(selector["name"], selector["key"], length=8).upper()
            helpers[helper] = {"name": helper, "valueFrom": {"secretKeyRef": selector}}
            text += f"$({helper})"
        else:
            text += k8s_escape(part)
    return text


def _container(
    wl: Workload,
    cname: str,
    c: dict[str, Any],
    profile: Profile,
    resolver: Any,
    sink: _SecretSink,
    files_cm: dict[str, Any],
    volumes: dict[str, dict[str, Any]],
    resources: Mapping[str, Resolved],
    images: Mapping[str, str],
) -> dict[str, Any]:
    path = ("containers", cname)
    image = c["image"]
    if image == ".":
        image = images.get(f"{wl.name}.{cname}") or images.get(wl.name) or images.get("")
        if not image:
            raise RenderFailure(
                wl.doc.problem(
                    (*path, "image"),
                    "image is '.', which means 'built from this repo'",
                    f"give it with --image {wl.name}={'<registry>/<repo>:<tag>'}",
                )
            )
    helpers: dict[str, dict[str, Any]] = {}
    env = _env_vars(wl, cname, c, resolver, sink, helpers)
    out: dict[str, Any] = {"name": cname, "image": image}
    for key in ("command", "args"):
        if key in c:
            out[key] = [
                _join_k8s(_expand(wl, (*path, key, i), v, resolver), sink, helpers)
                for i, v in enumerate(c[key])
            ]
    env = [helpers[k] for k in sorted(helpers)] + env
    if env:
        out["env"] = env
    mounts = _files(wl, cname, c, resolver, sink, files_cm, volumes)
    mounts += _volumes(wl, cname, c, volumes, resources)
    if mounts:
        out["volumeMounts"] = sorted(mounts, key=lambda m: m["mountPath"])
    res = _compute(c.get("resources") or {}, profile.default_resources)
    if res:
        out["resources"] = res
    for probe in ("livenessProbe", "readinessProbe"):
        if probe in c:
            out[probe] = _probe(c[probe])
    if profile.container_security_context:
        out["securityContext"] = dict(profile.container_security_context)
    return out


def _compute(given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Profile defaults fill only what the developer left open, never above a given limit."""
    requests = dict(given.get("requests") or {})
    limits = dict(given.get("limits") or {})
    for key, value in (defaults.get("requests") or {}).items():
        if key not in requests and key not in limits:
            requests[key] = value
    for key, value in (defaults.get("limits") or {}).items():
        if key not in limits and (key not in requests or quantity(requests[key]) <= quantity(value)):
            limits[key] = value
    out = {}
    if requests:
        out["requests"] = dict(sorted(requests.items()))
    if limits:
        out["limits"] = dict(sorted(limits.items()))
    return out


_UNITS = {
    "": 1,
    "m": 0.001,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity(text: str) -> float:
    """A Kubernetes quantity as a number, for comparisons only."""
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    if not match or match.group(2) not in _UNITS:
        return float("inf")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _probe(probe: Mapping[str, Any]) -> dict[str, Any]:
    # Score allows both; Kubernetes allows one handler: the spec says exec is preferred.
    if "exec" in probe:
        return {"exec": {"command": list(probe["exec"]["command"])}}
    http = probe["httpGet"]
    out: dict[str, Any] = {"path": http["path"], "port": http["port"]}
    for key in ("host", "scheme"):
        if key in http:
            out[key] = http[key]
    if "httpHeaders" in http:
        out["httpHeaders"] = [{"name": h["name"], "value": h["value"]} for h in http["httpHeaders"]]
    return {"httpGet": out}


def _files(
    wl: Workload,
    cname: str,
    c: dict[str, Any],
    resolver: Any,
    sink: _SecretSink,
    files_cm: dict[str, Any],
    volumes: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    mounts = []
    for target, f in sorted((c.get("files") or {}).items()):
        key = f"{cname}-{stable_id(target, length=8)}-{_slug(posixpath.basename(target))}"[:253]
        vol = f"file-{stable_id(cname, target, length=10)}"
        item: dict[str, Any] = {"key": key, "path": "content"}
        if "mode" in f:
            item["mode"] = int(f["mode"], 8)
        source_kind = "configMap"
        if "binaryContent" in f:
            files_cm["binaryData"][key] = f["binaryContent"]
        else:
            raw = f["content"] if "content" in f else _source_text(wl, f, files_cm, key)
            if raw is None:
                pass  # binary source, stored as binaryData by _source_text
            elif f.get("noExpand"):
                files_cm["data"][key] = raw
            else:
                where = ("containers", cname, "files", target, "content")
                parts = _expand(wl, where, raw, resolver)
                if any(isinstance(p, SecretRef) for p in parts):
                    sink.templates[key] = _eso_template(wl, where, parts, sink)
                    source_kind = "secret"
                else:
                    files_cm["data"][key] = "".join(str(p) for p in parts)
        if source_kind == "secret":
            volumes[vol] = {
                "name": vol,
                "secret": {"secretName": sink.secret_name, "items": [item]},
            }
        else:
            volumes[vol] = {"name": vol, "configMap": {"name": f"{wl.name}-files", "items": [item]}}
        mounts.append({"name": vol, "mountPath": target, "subPath": "content", "readOnly": True})
    return mounts


def _source_text(wl: Workload, f: Mapping[str, Any], files_cm: dict[str, Any], key: str) -> str | None:
    data = wl.sources[f["source"]]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        files_cm["binaryData"][key] = base64.b64encode(data).decode()
        return None


def _eso_template(wl: Workload, where: tuple[Any, ...], parts: list[Segment], sink: _SecretSink) -> str:
    """ESO renders Go templates: literal `{{` is escaped so developer text stays text."""
    text = ""
    for part in parts:
        if isinstance(part, SecretRef):
            if part.secret:
                raise RenderFailure(
                    wl.doc.problem(
                        where,
                        f"{part.describe()} lives only in the cluster and cannot be "
                        "placed inside file content",
                        "mount it as a variable instead",
                    )
                )
            text += _go_index(sink.key_for(part))
        else:
            text += part.replace("{{", '{{ "{{" }}')
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^-._a-zA-Z0-9]", "-", text).strip("-.") or "file"


def _volumes(
    wl: Workload,
    cname: str,
    c: dict[str, Any],
    volumes: dict[str, dict[str, Any]],
    resources: Mapping[str, Resolved],
) -> list[dict[str, Any]]:
    mounts = []
    for target, v in sorted((c.get("volumes") or {}).items()):
        rname = volume_resource(v["source"]) or v["source"]
        resolved = resources[rname]
        source = resolved.outputs.get("volume")
        if not isinstance(source, dict):
            raise RenderFailure(
                wl.doc.problem(
                    ("containers", cname, "volumes", target, "source"),
                    f"resource '{rname}' ({resolved.node.definition.id}) cannot be mounted: its "
                    "definition has no 'volume' output (a Kubernetes volume source)",
                )
            )
        name = f"vol-{rname}"[:63]
        volumes[name] = {"name": name, **source}
        mount: dict[str, Any] = {"name": name, "mountPath": target}
        if v.get("path"):
            mount["subPath"] = v["path"].lstrip("/")
        if v.get("readOnly"):
            mount["readOnly"] = True
        mounts.append(mount)
    return mounts


def _order_containers(
    wl: Workload, env: Environment, spec: Mapping[str, Any], built: Mapping[str, dict[str, Any]]
) -> tuple[list[Any], list[Any]]:
    """`before` → init containers (ready: complete) or native sidecars (started / healthy)."""
    early = {n for n, c in spec.items() if c.get("before")}
    if early == set(spec):
        raise RenderFailure(
            wl.doc.problem(
                ("containers",),
                "every container has 'before'; at least one must be the main container",
            )
        )
    init = []
    remaining = sorted(early)
    placed: set[str] = set()
    while remaining:
        # a container goes after every early container that must be ready before it
        ready = [
            n for n in remaining if all(n not in (spec[o].get("before") or {}) for o in remaining if o != n)
        ]
        name = ready[0] if ready else remaining[0]
        remaining.remove(name)
        placed.add(name)
        readiness = {b["ready"] for b in spec[name]["before"].values()}
        container = dict(built[name])
        if readiness != {"complete"}:
            if "complete" in readiness:
                raise RenderFailure(
                    wl.doc.problem(
                        ("containers", name, "before"),
                        "a container cannot both run to completion and keep running",
                    )
                )
            if _minor(env.kubernetes_version) < 29:
                raise RenderFailure(
                    wl.doc.problem(
                        ("containers", name, "before"),
                        f"ready: started/healthy needs native sidecars (Kubernetes ≥ 1.29); "
                        f"{env.id} runs {env.kubernetes_version}",
                    )
                )
            container["restartPolicy"] = "Always"
            if "healthy" in readiness:
                if "readinessProbe" not in container:
                    raise RenderFailure(
                        wl.doc.problem(
                            ("containers", name, "before"),
                            "ready: healthy needs a readinessProbe on this container",
                        )
                    )
                container["startupProbe"] = container["readinessProbe"]
        init.append(container)
    main = [built[n] for n in sorted(spec) if n not in early]
    return init, main


def _minor(version: str) -> int:
    return int(version.split(".")[1])
