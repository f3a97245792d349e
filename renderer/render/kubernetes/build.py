"""What the object builders of one workload share while it is rendered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from renderer.data import Json, PathKey
from renderer.errors import InputError
from renderer.inputs.placeholders import RefError, Resolver, Segment, expand
from renderer.model import Environment, Profile, Workload
from renderer.render.kubernetes.secrets import SecretSink
from renderer.resolve.nodes import Resolved


class RenderFailure(InputError):
    """A workload that cannot become Kubernetes objects as written."""


@dataclass(slots=True)
class Build:
    """One workload being rendered: its inputs, and what its containers add to shared objects."""

    wl: Workload
    env: Environment
    profile: Profile
    resources: Mapping[str, Resolved]
    images: Mapping[str, str]
    resolver: Resolver
    sink: SecretSink
    files_data: dict[str, str] = field(default_factory=dict)  # ConfigMap data of file mounts
    files_binary: dict[str, str] = field(default_factory=dict)  # ... and its binaryData
    volumes: dict[str, dict[str, Json]] = field(default_factory=dict)  # pod volumes by name
    pins: Mapping[str, str] = field(default_factory=dict)  # image (by tag) → digest, where env pins
    pinned: dict[str, str] = field(default_factory=dict)  # container → the tagged image it pinned

    def fail(self, path: PathKey, message: str, hint: str = "") -> RenderFailure:
        return RenderFailure(self.wl.doc.problem(path, message, hint))

    def expand(self, path: PathKey, text: str) -> list[Segment]:
        try:
            return expand(text, self.resolver)
        except RefError as exc:
            raise self.fail(path, str(exc)) from None
