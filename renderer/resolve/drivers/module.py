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
    def __init__(self) -> None:
        self._last: dict[str, tuple[Json, Json]] = {}  # context key → (value, escaped) of the last render

    def render(self, definition: ResourceDefinition, context: Context) -> Artifacts:
        safe = {k: self._escaped(k, v) for k, v in context.items()}
        inputs = templates.render_object(
            definition.doc, ("module", "inputs"), definition.module_inputs, safe, "render module inputs"
        )
        return Artifacts(module={"source": definition.module_source, "inputs": inputs})

    def _escaped(self, key: str, value: Json) -> Json:
        """`escape_terraform`, once per object: every node of an environment is handed the same
        `all_workloads` (never changed while it resolves), and escaping it for each node would cost
        apps × workloads. Compared by identity, so a new or other object is escaped afresh."""
        last = self._last.get(key)
        if last is not None and last[0] is value:
            return last[1]
        escaped = escape_terraform(value)
        self._last[key] = (value, escaped)
        return escaped
