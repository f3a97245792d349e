"""`static`: something that already exists; it only has outputs."""

from __future__ import annotations

from typing import Any

from renderer.drivers import Artifacts
from renderer.model import ResourceDefinition


class StaticDriver:
    def render(self, definition: ResourceDefinition, context: dict[str, Any]) -> Artifacts:
        return Artifacts()
