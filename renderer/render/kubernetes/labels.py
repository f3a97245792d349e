"""The renderer's own labels and annotations: the recommended `app.kubernetes.io/` labels on every object.

name: the workload (or the resource type); instance: unique in the environment; version: the image tag
of the main container (or of the resource's own pod); component: `workload`, or the resource's name in
the Score file; part-of: the app (the shared namespace for shared resources); managed-by: the renderer.
Selectors use name and part-of only: they are immutable, and must not change when a version does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from renderer.data import Json, KubeObject, json_object
from renderer.model import Environment, Profile, Workload
from renderer.resolve.graph import stable_id
from renderer.resolve.nodes import Resolved

PREFIX = "app.kubernetes.io/"
MANAGED_BY = {f"{PREFIX}managed-by": "platform-renderer"}
VERSION = f"{PREFIX}version"
ANNOTATION_SOURCE = "renderer.platform/source"
ANNOTATION_UID = "renderer.platform/resource-uid"
ANNOTATION_IMAGE_TAG = "renderer.platform/image-tag."  # + container: the tag a pinned image had
ANNOTATION_CHECKSUM = "renderer.platform/content-checksum"  # on the pod template: see files.content_checksum


def labels_for(wl: Workload, env: Environment, profile: Profile | None, image: str) -> dict[str, str]:
    """A workload's objects and pods: the profile's labels, then the recommended ones (which win)."""
    own = recommended(wl.name, f"{wl.app}-{wl.name}-{env.id}", "workload", wl.app, image_version(image))
    return {**(profile.labels if profile else {}), **own}


def selector_for(wl: Workload) -> dict[str, str]:
    return {f"{PREFIX}name": wl.name, f"{PREFIX}part-of": wl.app}


def recommended(
    name: str, instance: str, component: str, part_of: str, version: str | None
) -> dict[str, str]:
    labels = {
        f"{PREFIX}name": label_value(name),
        f"{PREFIX}instance": label_value(instance),
        f"{PREFIX}component": label_value(component),
        f"{PREFIX}part-of": label_value(part_of),
        **MANAGED_BY,
    }
    if version:
        labels[VERSION] = version
    return labels


def label_value(text: str) -> str:
    """A valid label value (63 characters, alphanumeric at both ends); a long one keeps a hash of it."""
    value = re.sub(r"[^A-Za-z0-9_.-]", "-", text).strip("-_.")
    if len(value) > 63:
        value = f"{value[:54].rstrip('-_.')}-{stable_id(text, length=8)}"
    return value or "none"


def image_version(image: str) -> str | None:
    """The tag of an image reference (`registry:5000/repo:tag@sha256:…`), else its digest's first 12
    hex digits; an image named without either is what the registry calls `latest`."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return label_value(last.split(":", 1)[1])
    if digest:
        return label_value(digest.split(":")[-1][:12])
    return "latest" if name else None


def main_image(containers: Sequence[Mapping[str, Json]]) -> str:
    """The first main container's image, as rendered (init containers and sidecars aside)."""
    return str(containers[0].get("image", "")) if containers else ""


def pod_image(obj: Mapping[str, Json]) -> str:
    """The first container's image of an object with a pod template (a database StatefulSet)."""
    pod = json_object(json_object(json_object(obj.get("spec")).get("template")).get("spec"))
    containers = pod.get("containers")
    if isinstance(containers, Sequence) and containers and isinstance(containers[0], Mapping):
        return str(containers[0].get("image", ""))
    return ""


def stamp_resource(
    obj: Mapping[str, Json], labels: Mapping[str, str], notes: Mapping[str, str], namespace: str | None
) -> KubeObject:
    """A resource's object with the recommended labels under the definition's own, the renderer's
    managed-by and annotations over them, and its namespace unless it says one (or is cluster-wide)."""
    meta = dict(json_object(obj["metadata"]))
    if namespace is not None:
        meta.setdefault("namespace", namespace)
    meta["labels"] = {**labels, **json_object(meta.get("labels")), **MANAGED_BY}
    meta["annotations"] = {**json_object(meta.get("annotations")), **notes}
    return {**obj, "metadata": meta}


def resource_labels(
    r: Resolved, env: Environment, obj: Mapping[str, Json], version: str | None
) -> dict[str, str]:
    """A resource's objects: named by its type, one instance per resource, its Score name the
    component; the version is its own pod's image tag, else the requesting workload's."""
    node = r.node
    part_of = node.app or env.shared_namespace
    own = image_version(pod_image(obj)) if pod_image(obj) else None
    return recommended(node.type, f"{node.type}-{r.guid}", node.name, part_of, own or version)


def workload_version(objects: Sequence[Mapping[str, Json]]) -> str | None:
    """The version label a workload's controller (its first object) carries."""
    labels = json_object(json_object(objects[0].get("metadata")).get("labels")) if objects else {}
    value = labels.get(VERSION)
    return value if isinstance(value, str) else None
