"""The renderer's own labels and annotations, and the labels every workload object carries."""

from __future__ import annotations

from renderer.model import Profile, Workload

MANAGED_BY = {"app.kubernetes.io/managed-by": "platform-renderer"}
ANNOTATION_SOURCE = "renderer.platform/source"
ANNOTATION_UID = "renderer.platform/resource-uid"
ANNOTATION_CHECKSUM = "renderer.platform/content-checksum"  # on the pod template: see files.content_checksum


def labels_for(wl: Workload, profile: Profile | None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": wl.name, "app.kubernetes.io/part-of": wl.app, **MANAGED_BY}
    if profile:
        labels = {**profile.labels, **labels}
    return labels


def selector_for(wl: Workload) -> dict[str, str]:
    return {"app.kubernetes.io/name": wl.name, "app.kubernetes.io/part-of": wl.app}
