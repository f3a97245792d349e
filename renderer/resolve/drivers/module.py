"""`terraform`: one module block per resource, inputs rendered from the context."""

from __future__ import annotations

from collections.abc import Mapping

from renderer.data import Json
from renderer.model import ResourceDefinition
from renderer.resolve import templates
from renderer.resolve.drivers.base import Artifacts
from renderer.resolve.templates import Context


def escape_terraform(value: Json) -> Json:
    """Terraform evaluates `${…}` and `%{…}` in JSON strings; values from inputs stay literal."""
    if isinstance(value, str):
        return value.replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, Mapping):
        return {k: escape_terraform(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_terraform(v) for v in value]
    return value


class TerraformDriver:
    def render(self, definition: ResourceDefinition, context: Context) -> Artifacts:
        safe = {k: escape_terraform(v) for k, v in context.items()}
        inputs = templates.render_object(
            definition.doc, ("module", "inputs"), definition.module_inputs, safe, "render module inputs"
        )
        return Artifacts(module={"source": definition.module_source, "inputs": inputs})
