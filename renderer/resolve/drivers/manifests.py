"""`kubernetes`: a sandboxed Jinja2 template that yields Kubernetes manifests."""

from __future__ import annotations

import yaml

from renderer.data import KubeObject
from renderer.errors import Problem
from renderer.model import ResourceDefinition
from renderer.resolve import templates
from renderer.resolve.drivers.base import Artifacts
from renderer.resolve.templates import Context, TemplateFailure

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubernetesDriver:
    def render(self, definition: ResourceDefinition, context: Context) -> Artifacts:
        text = templates.render(
            "yaml", definition.doc, ("template",), definition.template, context, "render template"
        )
        try:
            docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
        except yaml.YAMLError as exc:
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


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's problem in one line, with the line of the rendered output it is on."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        return exc.problem + (f" (line {mark.line + 1} of the rendered output)" if mark else "")
    return str(exc).strip().splitlines()[0]


def _kube_object(doc: object) -> KubeObject | None:
    """A parsed document when it is a Kubernetes object: apiVersion, kind and metadata.name given."""
    if not isinstance(doc, dict):
        return None
    meta = doc.get("metadata")
    if doc.get("apiVersion") and doc.get("kind") and isinstance(meta, dict) and meta.get("name"):
        return doc
    return None
