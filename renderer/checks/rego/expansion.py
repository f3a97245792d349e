"""Gatekeeper ExpansionTemplates: the objects a rendered workload implies (a Deployment's Pod), built as
Gatekeeper's expansion system (pkg/expansion) builds them, so that templates written for Pods review
the Pods a Deployment will create, as gator test and the admission webhook do."""

from __future__ import annotations

from collections.abc import Mapping

from renderer.checks.rego.gkmatch import group_version
from renderer.data import Json, json_object
from renderer.model import Expansion

MAX_DEPTH = 30  # Gatekeeper's limit on expansions of expansions (a CronJob's Job's Pod)


class ExpansionError(Exception):
    """An object an ExpansionTemplate applies to lacks the template's source field, or expansions loop."""


def expand(
    obj: Mapping[str, Json], templates: tuple[Expansion, ...], depth: int = 0
) -> list[tuple[Expansion, Json]]:
    """Every object `obj` implies, each with the template that implied it, deepest first."""
    if depth >= MAX_DEPTH:
        raise ExpansionError(f"expansions nest deeper than {MAX_DEPTH}: do two ExpansionTemplates loop?")
    group, version = group_version(obj)
    kind = str(obj.get("kind") or "")
    out: list[tuple[Expansion, Json]] = []
    for template in templates:
        if not any(group in g and version in v and kind in k for g, v, k in template.apply_to):
            continue
        child = implied(obj, template)
        out += expand(child, templates, depth + 1)
        out.append((template, child))
    return out


def implied(obj: Mapping[str, Json], template: Expansion) -> dict[str, Json]:
    """The object at the template's source, with the generated kind, the parent's namespace, the name
    Gatekeeper gives it (`<parent>-<kind>`, lowercase) and an owner reference to the parent."""
    source: Json = obj
    for key in template.source:
        source = json_object(source).get(key)
    meta = json_object(obj.get("metadata"))
    name = str(meta.get("name") or "")
    if not isinstance(source, Mapping):
        where = ".".join(template.source)
        raise ExpansionError(f"{template.name}: no field {where} in {obj.get('kind')} {name}")
    group, version, kind = template.generated
    child: dict[str, Json] = {
        **source,
        "apiVersion": f"{group}/{version}" if group else version,
        "kind": kind,
    }
    child_meta: dict[str, Json] = dict(json_object(source.get("metadata")))
    if meta.get("namespace"):
        child_meta["namespace"] = meta["namespace"]
    child_meta["name"] = f"{name}-{kind}".lower() if kind else name.lower()
    owner = {"apiVersion": str(obj.get("apiVersion")), "kind": str(obj.get("kind")), "name": name}
    owners = child_meta.get("ownerReferences")
    refs = list(owners) if isinstance(owners, list) else []
    if not any(isinstance(r, Mapping) and all(r.get(k) == v for k, v in owner.items()) for r in refs):
        refs.append(owner)
    child_meta["ownerReferences"] = refs
    child["metadata"] = child_meta
    return child
