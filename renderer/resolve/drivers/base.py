"""What a resource driver is: a Protocol from a definition and its template context to artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from renderer.model import ResourceDefinition


@dataclass(frozen=True, slots=True)
class Artifacts:
    """What a driver adds to the rendered tree for one resource."""

    objects: tuple[Mapping[str, Any], ...] = ()  # Kubernetes objects
    module: Mapping[str, Any] | None = None  # a Terraform module block: source and inputs


class Driver(Protocol):
    def render(self, definition: ResourceDefinition, context: dict[str, Any]) -> Artifacts: ...
