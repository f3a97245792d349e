"""Score files and volumes → pod volumes and mounts (file content: a ConfigMap, or a secret template)."""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from collections.abc import Mapping

from renderer.data import Json
from renderer.inputs.score import volume_resource
from renderer.model import ScoreContainer, ScoreFile, SecretRef
from renderer.render.kubernetes.build import Build
from renderer.render.kubernetes.secrets import eso_template
from renderer.resolve.graph import stable_id


def files_configmap_name(b: Build) -> str:
    return f"{b.wl.name}-files"


def file_mounts(b: Build, cname: str, c: ScoreContainer) -> list[dict[str, Json]]:
    mounts: list[dict[str, Json]] = []
    for target, f in sorted((c.get("files") or {}).items()):
        key = f"{cname}-{stable_id(target, length=8)}-{_slug(posixpath.basename(target))}"[:253]
        vol = f"file-{stable_id(cname, target, length=10)}"
        item: dict[str, Json] = {"key": key, "path": "content"}
        if "mode" in f:
            item["mode"] = int(f["mode"], 8)
        if _content(b, ("containers", cname, "files", target, "content"), f, key):
            b.volumes[vol] = {"name": vol, "secret": {"secretName": b.sink.secret_name, "items": [item]}}
        else:
            b.volumes[vol] = {"name": vol, "configMap": {"name": files_configmap_name(b), "items": [item]}}
        mounts.append({"name": vol, "mountPath": target, "subPath": "content", "readOnly": True})
    return mounts


def _content(b: Build, where: tuple[str, ...], f: ScoreFile, key: str) -> bool:
    """Place one file's content under `key`; True when it went to the secret (it holds secrets)."""
    if "binaryContent" in f:
        b.files_binary[key] = f["binaryContent"]
        return False
    raw = f["content"] if "content" in f else _source_text(b, f["source"], key)
    if raw is None:
        return False  # a binary source, stored as binaryData
    if f.get("noExpand"):
        b.files_data[key] = raw
        return False
    parts = b.expand(where, raw)
    if not any(isinstance(p, SecretRef) for p in parts):
        b.files_data[key] = "".join(str(p) for p in parts)
        return False
    for part in parts:
        if isinstance(part, SecretRef) and part.secret:
            raise b.fail(
                where,
                f"{part.describe()} lives only in the cluster and cannot be placed inside file content",
                "mount it as a variable instead",
            )
    b.sink.templates[key] = eso_template(parts, b.sink)
    return True


def _source_text(b: Build, source: str, key: str) -> str | None:
    data = b.wl.sources[source]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        b.files_binary[key] = base64.b64encode(data).decode()
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^-._a-zA-Z0-9]", "-", text).strip("-.") or "file"


def volume_mounts(b: Build, cname: str, c: ScoreContainer) -> list[dict[str, Json]]:
    mounts: list[dict[str, Json]] = []
    for target, v in sorted((c.get("volumes") or {}).items()):
        rname = volume_resource(v["source"]) or v["source"]
        resolved = b.resources[rname]
        source = resolved.outputs.get("volume")
        if not isinstance(source, Mapping):
            raise b.fail(
                ("containers", cname, "volumes", target, "source"),
                f"resource '{rname}' ({resolved.node.definition.id}) cannot be mounted: its "
                "definition has no 'volume' output (a Kubernetes volume source)",
            )
        name = f"vol-{rname}"[:63]
        b.volumes[name] = {"name": name, **source}
        mount: dict[str, Json] = {"name": name, "mountPath": target}
        if v.get("path"):
            mount["subPath"] = v["path"].lstrip("/")
        if v.get("readOnly"):
            mount["readOnly"] = True
        mounts.append(mount)
    return mounts


def content_checksum(b: Build) -> str | None:
    """A digest of the content the pod mounts (file ConfigMap data, secret templates, secret keys).

    On the pod template it rolls the pods when a file changes: a ConfigMap edit alone restarts nothing."""
    content: dict[str, Json] = {
        "data": b.files_data,
        "binaryData": b.files_binary,
        "templates": b.sink.templates,
        "secrets": {k: list(v) for k, v in b.sink.data.items()},
    }
    if not any(content.values()):
        return None
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
