"""What a resource driver is: a Protocol from a definition and its template context to artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TypedDict

from renderer.data import Json, KubeObject
from renderer.model import ResourceDefinition
from renderer.resolve.templates import Context


class ModuleCall(TypedDict):
    """A Terraform module block: the shipped module's name and its rendered inputs."""

    source: str
    inputs: Mapping[str, Json]


@dataclass(frozen=True, slots=True)
class Artifacts:
    """What a driver adds to the rendered tree for one resource."""

    objects: tuple[KubeObject, ...] = ()  # Kubernetes objects
    module: ModuleCall | None = None


class Driver(Protocol):
    def render(self, definition: ResourceDefinition, context: Context) -> Artifacts: ...
