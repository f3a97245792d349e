"""Resource drivers: a Protocol and a plain registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from renderer.model import ResourceDefinition


@dataclass(frozen=True, slots=True)
class Artifacts:
    """What a driver adds to the rendered tree for one resource."""

    objects: tuple[Mapping[str, Any], ...] = ()
    module: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Driver(Protocol):
    def render(self, definition: ResourceDefinition, context: dict[str, Any]) -> Artifacts: ...


def registry() -> dict[str, Driver]:
    from renderer.resolve.drivers import manifests, module, static

    return {
        "kubernetes": manifests.KubernetesDriver(),
        "terraform": module.TerraformDriver(),
        "static": static.StaticDriver(),
    }
