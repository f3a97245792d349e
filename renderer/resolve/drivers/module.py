"""`terraform`: one module block per resource, inputs rendered from the context."""

from __future__ import annotations

from typing import Any

from renderer.model import ResourceDefinition
from renderer.resolve import templates
from renderer.resolve.drivers.base import Artifacts


def escape_terraform(value: Any) -> Any:
    """Terraform evaluates `${…}` and `%{…}` in JSON strings; values from inputs stay literal."""
    if isinstance(value, str):
        return value.replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, dict):
        return {k: escape_terraform(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_terraform(v) for v in value]
    return value


class TerraformDriver:
    def render(self, definition: ResourceDefinition, context: dict[str, Any]) -> Artifacts:
        safe = escape_terraform(context)
        inputs = templates.render_value(
            definition.doc,
            ("module", "inputs"),
            dict(definition.module_inputs),
            safe,
            "render module inputs",
        )
        return Artifacts(module={"source": definition.module_source, "inputs": inputs})
