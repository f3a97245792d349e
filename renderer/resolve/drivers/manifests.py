"""`kubernetes`: a sandboxed Jinja2 template that yields Kubernetes manifests."""

from __future__ import annotations

from renderer.data import KubeObject
from renderer.errors import Problem
from renderer.inputs.yamlio import YamlLoadError, load_generated
from renderer.model import ResourceDefinition
from renderer.resolve import templates
from renderer.resolve.drivers.base import Artifacts
from renderer.resolve.templates import Context, TemplateFailure


class KubernetesDriver:
    def render(self, definition: ResourceDefinition, context: Context) -> Artifacts:
        text = templates.render(
            "yaml", definition.doc, ("template",), definition.template, context, "render template"
        )
        try:
            docs = load_generated(text, "the rendered output")
        except YamlLoadError as exc:
            # at the template itself: a line of the rendered text is no line of the definition file
            line = definition.doc.line(["template"])
            message = f"template output is not valid YAML: {_yaml_problem(exc)}"
            raise TemplateFailure(Problem(definition.file, line, "template", message)) from None
        objects = []
        for i, doc in enumerate(docs):
            obj = _kube_object(doc)
            if obj is None:
                raise TemplateFailure(
                    Problem(
                        definition.file,
                        definition.doc.line(["template"]),
                        "template",
                        f"document {i + 1} of the template output is not a Kubernetes object "
                        "(needs apiVersion, kind and metadata.name)",
                    )
                )
            objects.append(obj)
        return Artifacts(objects=tuple(objects))


def _yaml_problem(exc: YamlLoadError) -> str:
    """The reader's problem in one line, with the line of the rendered output it is on."""
    problem = exc.problems()[0]
    at = f" at {problem.path}" if problem.path else ""
    where = f" (line {problem.line} of the rendered output)" if problem.line else ""
    return f"{problem.message.removeprefix('not valid YAML: ')}{at}{where}"


def _kube_object(doc: object) -> KubeObject | None:
    """A parsed document when it is a Kubernetes object: apiVersion, kind and metadata.name given."""
    if not isinstance(doc, dict):
        return None
    meta = doc.get("metadata")
    if doc.get("apiVersion") and doc.get("kind") and isinstance(meta, dict) and meta.get("name"):
        return doc
    return None
