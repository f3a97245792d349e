"""`static`: something that already exists; it only has outputs."""

from __future__ import annotations

from typing import Any

from renderer.model import ResourceDefinition
from renderer.resolve.drivers.base import Artifacts


class StaticDriver:
    def render(self, definition: ResourceDefinition, context: dict[str, Any]) -> Artifacts:
        return Artifacts()
