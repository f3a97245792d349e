"""`static`: something that already exists; it only has outputs."""

from __future__ import annotations

from renderer.model import ResourceDefinition
from renderer.resolve.drivers.base import Artifacts
from renderer.resolve.templates import Context


class StaticDriver:
    def render(self, definition: ResourceDefinition, context: Context) -> Artifacts:
        return Artifacts()
