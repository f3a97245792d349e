"""`kubernetes`: a sandboxed Jinja2 template that yields Kubernetes manifests."""

from __future__ import annotations

from typing import Any

import yaml

from renderer.errors import Problem
from renderer.model import ResourceDefinition
from renderer.resolve import templates
from renderer.resolve.drivers.base import Artifacts
from renderer.resolve.templates import TemplateFailure

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubernetesDriver:
    def render(self, definition: ResourceDefinition, context: dict[str, Any]) -> Artifacts:
        text = templates.render(
            "yaml", definition.doc, ("template",), definition.template, context, "render template"
        )
        try:
            docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            offset = definition.doc.line(["template"]) + (mark.line + 1 if mark else 0)
            raise TemplateFailure(
                Problem(definition.file, offset, "template", f"template output is not valid YAML: {exc}")
            ) from None
        for i, obj in enumerate(docs):
            if not (
                isinstance(obj, dict)
                and obj.get("apiVersion")
                and obj.get("kind")
                and isinstance(obj.get("metadata"), dict)
                and obj["metadata"].get("name")
            ):
                raise TemplateFailure(
                    Problem(
                        definition.file,
                        definition.doc.line(["template"]),
                        "template",
                        f"document {i + 1} of the template output is not a Kubernetes object "
                        "(needs apiVersion, kind and metadata.name)",
                    )
                )
        return Artifacts(objects=tuple(docs))
