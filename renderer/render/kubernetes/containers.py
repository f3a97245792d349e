"""Score containers → Kubernetes containers: image, command, env, resources, probes, start order."""

from __future__ import annotations

import re
from collections.abc import Mapping

from renderer.data import Json
from renderer.inputs.placeholders import Segment
from renderer.model import ScoreContainer, ScoreProbe, SecretRef
from renderer.render.kubernetes.build import Build
from renderer.render.kubernetes.files import file_mounts, volume_mounts
from renderer.render.kubernetes.quantities import compute_resources
from renderer.resolve.graph import stable_id

_K8S_DOLLAR = re.compile(r"\$(?=[$(])")


def k8s_escape(text: str) -> str:
    """Literal text where kubelet expands `$(VAR)`: developer strings stay data."""
    return _K8S_DOLLAR.sub("$$", text)


def container(b: Build, cname: str, c: ScoreContainer) -> dict[str, Json]:
    path = ("containers", cname)
    helpers: dict[str, dict[str, Json]] = {}
    env = _env_vars(b, cname, c, helpers)
    out: dict[str, Json] = {"name": cname, "image": _pin(b, cname, _image(b, cname, c["image"]))}
    for key, values in (("command", c.get("command")), ("args", c.get("args"))):
        if values is not None:
            out[key] = [_join(b, b.expand((*path, key, i), v), helpers) for i, v in enumerate(values)]
    env = [helpers[k] for k in sorted(helpers)] + env
    if env:
        out["env"] = env
    mounts = sorted(file_mounts(b, cname, c) + volume_mounts(b, cname, c), key=lambda m: str(m["mountPath"]))
    if mounts:
        out["volumeMounts"] = mounts
    res = compute_resources(c.get("resources") or {}, b.profile.default_resources)
    if res:
        out["resources"] = res
    for key, probe in (
        ("livenessProbe", c.get("livenessProbe")),
        ("readinessProbe", c.get("readinessProbe")),
    ):
        if probe is not None:
            out[key] = _probe(probe)
    if b.profile.container_security_context:
        out["securityContext"] = dict(b.profile.container_security_context)
    return out


def _pin(b: Build, cname: str, image: str) -> str:
    """`repo@sha256:…` where the environment pins images and the edge resolved this tag's digest;
    the tagged reference is kept in the pod template's annotations (`ANNOTATION_IMAGE_TAG`)."""
    digest = b.pins.get(image)
    if not digest:
        return image
    b.pinned[cname] = image
    name = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{name}@{digest}"


def _image(b: Build, cname: str, image: str) -> str:
    if image != ".":
        return image
    name = b.wl.name
    given = b.images.get(f"{name}.{cname}") or b.images.get(name) or b.images.get("")
    if not given:
        raise b.fail(
            ("containers", cname, "image"),
            "image is '.', which means 'built from this repo'",
            f"give it with --image {name}={'<registry>/<repo>:<tag>'}",
        )
    return given


def _env_vars(
    b: Build, cname: str, c: ScoreContainer, helpers: dict[str, dict[str, Json]]
) -> list[dict[str, Json]]:
    out: list[dict[str, Json]] = []
    for name, value in sorted((c.get("variables") or {}).items()):
        parts = b.expand(("containers", cname, "variables", name), value)
        if len(parts) == 1 and isinstance(parts[0], SecretRef):
            out.append({"name": name, "valueFrom": {"secretKeyRef": b.sink.selector(parts[0])}})
        else:
            out.append({"name": name, "value": _join(b, parts, helpers)})
    return out


def _join(b: Build, parts: list[Segment], helpers: dict[str, dict[str, Json]]) -> str:
    """Literal text escaped; each secret becomes `$(HELPER)`, a secret-backed variable defined first."""
    text = ""
    for part in parts:
        if isinstance(part, SecretRef):
            selector = b.sink.selector(part)
            helper = "SECRET_" + stable_id(selector["name"], selector["key"], length=8).upper()
            helpers[helper] = {"name": helper, "valueFrom": {"secretKeyRef": selector}}
            text += f"$({helper})"
        else:
            text += k8s_escape(part)
    return text


def _probe(probe: ScoreProbe) -> dict[str, Json]:
    # Score allows both; Kubernetes allows one handler: the spec says exec is preferred.
    if "exec" in probe:
        return {"exec": {"command": list(probe["exec"]["command"])}}
    http = probe["httpGet"]
    out: dict[str, Json] = {"path": http["path"], "port": http["port"]}
    if "host" in http:
        out["host"] = http["host"]
    if "scheme" in http:
        out["scheme"] = http["scheme"]
    if "httpHeaders" in http:
        out["httpHeaders"] = [{"name": h["name"], "value": h["value"]} for h in http["httpHeaders"]]
    return {"httpGet": out}


def order_containers(
    b: Build, built: Mapping[str, dict[str, Json]]
) -> tuple[list[dict[str, Json]], list[dict[str, Json]]]:
    """`before` → init containers (ready: complete) or native sidecars (started / healthy)."""
    spec = b.wl.spec["containers"]
    early = {n for n, c in spec.items() if c.get("before")}
    if early == set(spec):
        raise b.fail(("containers",), "every container has 'before'; at least one must be the main container")
    init = []
    remaining = sorted(early)
    while remaining:
        # a container goes after every early container that must be ready before it
        ready = [
            n for n in remaining if all(n not in (spec[o].get("before") or {}) for o in remaining if o != n)
        ]
        name = ready[0] if ready else remaining[0]
        remaining.remove(name)
        readiness: set[str] = {r["ready"] for r in spec[name]["before"].values()}
        init.append(_early(b, name, dict(built[name]), readiness))
    main = [built[n] for n in sorted(spec) if n not in early]
    return init, main


def _early(b: Build, name: str, container: dict[str, Json], readiness: set[str]) -> dict[str, Json]:
    """An init container runs to completion; a native sidecar (restartPolicy Always) keeps running."""
    if readiness == {"complete"}:
        return container
    where = ("containers", name, "before")
    if "complete" in readiness:
        raise b.fail(where, "a container cannot both run to completion and keep running")
    if int(b.env.kubernetes_version.split(".")[1]) < 29:
        raise b.fail(
            where,
            f"ready: started/healthy needs native sidecars (Kubernetes ≥ 1.29); "
            f"{b.env.id} runs {b.env.kubernetes_version}",
        )
    container["restartPolicy"] = "Always"
    if "healthy" in readiness:
        if "readinessProbe" not in container:
            raise b.fail(where, "ready: healthy needs a readinessProbe on this container")
        container["startupProbe"] = container["readinessProbe"]
    return container
