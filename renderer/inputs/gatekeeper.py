"""Gatekeeper ConstraintTemplates and constraints found in a policy set → validated values.

Checked as Gatekeeper's API server and controller check them (the template's name is its kind in
lowercase, one target `admission.k8s.gatekeeper.sh`, a constraint's kind names a template, its match
as `pkg/mutation/match` reads it, its parameters against the template's schema); the Rego itself is
compiled by the check stage (`checks/rego/gatekeeper.py`), which owns the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from renderer.data import Doc, Json, json_object
from renderer.errors import Collector, Problem
from renderer.inputs import schema
from renderer.model import Constraint, ConstraintTemplate, Expansion

TEMPLATES = "templates.gatekeeper.sh"
CONSTRAINTS = "constraints.gatekeeper.sh"
EXPANSIONS = "expansion.gatekeeper.sh"
# Render time stands in for gator and for the admission webhook: a constraint scoped to either applies
RENDER_POINTS = ("*", "gator.gatekeeper.sh", "validation.gatekeeper.sh")
SEVERITY = ("deny", "warn", "dryrun")  # the most severe action scoped to a render point wins
TEMPLATE_HINT = "see the schema gatekeeper-template"


def is_gatekeeper(doc: Doc) -> bool:
    """A document of any Gatekeeper API group (templates, constraints, mutations, config…)."""
    api = json_object(doc.data).get("apiVersion")
    return isinstance(api, str) and api.split("/")[0].endswith("gatekeeper.sh")


Library = tuple[tuple[ConstraintTemplate, ...], tuple[Constraint, ...], tuple[Expansion, ...]]


def read(docs: Sequence[Doc], problems: Collector) -> Library:
    """The templates, constraints and expansion templates among `docs`, sorted; every problem goes
    to `problems`."""
    templates: dict[str, tuple[ConstraintTemplate, Mapping[str, Json]]] = {}
    constraints: dict[tuple[str, str], Constraint] = {}
    later = []
    expansions: dict[str, Expansion] = {}
    for doc in docs:
        group = str(json_object(doc.data).get("apiVersion")).split("/")[0]
        if group == TEMPLATES:
            _add_template(doc, templates, problems)
        elif group == CONSTRAINTS:
            later.append(doc)
        elif group == EXPANSIONS:
            _add_expansion(doc, expansions, problems)
        else:
            kind = json_object(doc.data).get("kind")
            problems.extend(
                [
                    doc.problem(
                        ["apiVersion"],
                        f"{kind} ({group}) is not evaluated at render time: only ConstraintTemplates, "
                        "constraints and ExpansionTemplates are",
                        "keep mutations and Gatekeeper's config outside policies/",
                    )
                ]
            )
    for doc in later:
        constraint = _constraint(doc, templates, problems)
        if constraint is None:
            continue
        key = (constraint.kind, constraint.name)
        if key in constraints:
            first = constraints[key]
            problems.extend(
                [
                    doc.problem(
                        ["metadata", "name"],
                        f"{key[0]}/{key[1]} is also defined in {first.file}:{first.line}",
                    )
                ]
            )
            continue
        constraints[key] = constraint
    found = tuple(t for _, (t, _s) in sorted(templates.items()))
    return (
        found,
        tuple(c for _, c in sorted(constraints.items())),
        tuple(e for _, e in sorted(expansions.items())),
    )


def _add_expansion(doc: Doc, expansions: dict[str, Expansion], problems: Collector) -> None:
    errors = schema.check("gatekeeper-expansion", doc.data, doc)
    if errors:
        problems.extend(errors)
        return
    data = json_object(doc.data)
    spec = json_object(data.get("spec"))
    name = str(json_object(data.get("metadata")).get("name"))
    if name in expansions:
        first = expansions[name]
        problems.extend(
            [doc.problem(["metadata", "name"], f"{name} is also defined in {first.file}:{first.line}")]
        )
        return
    entries = [json_object(a) for a in _list(spec.get("applyTo"))]
    gvk = json_object(spec.get("generatedGVK"))
    expansions[name] = Expansion(
        name=name,
        apply_to=tuple((_set(a, "groups"), _set(a, "versions"), _set(a, "kinds")) for a in entries),
        source=tuple(str(spec.get("templateSource")).split(".")),
        generated=(str(gvk.get("group") or ""), str(gvk.get("version")), str(gvk.get("kind"))),
        action=str(spec.get("enforcementAction") or ""),
        file=doc.file,
        line=doc.line([]),
    )


def _list(value: Json) -> list[Json]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []


def _set(entry: Mapping[str, Json], key: str) -> frozenset[str]:
    return frozenset(str(v) for v in _list(entry.get(key)))


def _add_template(
    doc: Doc, templates: dict[str, tuple[ConstraintTemplate, Mapping[str, Json]]], problems: Collector
) -> None:
    errors = schema.check("gatekeeper-template", doc.data, doc)
    if errors:
        problems.extend(errors)
        return
    data = json_object(doc.data)
    spec = json_object(data.get("spec"))
    crd = json_object(json_object(spec.get("crd")).get("spec"))
    kind = str(json_object(crd.get("names")).get("kind"))
    name = str(json_object(data.get("metadata")).get("name"))
    if name != kind.lower():
        problems.extend(
            [doc.problem(["metadata", "name"], f"the name must be the kind in lowercase: '{kind.lower()}'")]
        )
        return
    template = _rego(doc, kind, problems)
    if template is None:
        return
    if kind in templates:
        first = templates[kind][0]
        problems.extend(
            [doc.problem(["spec", "crd", "spec", "names", "kind"], f"{kind} is also defined in {first.file}")]
        )
        return
    params = json_object(json_object(crd.get("validation")).get("openAPIV3Schema"))
    templates[kind] = (template, params)


def _rego(doc: Doc, kind: str, problems: Collector) -> ConstraintTemplate | None:
    """The template's Rego: a `code` entry of engine Rego (current form), else the target's `rego`."""
    target = json_object(_first(json_object(json_object(doc.data).get("spec")).get("targets")))
    code = target.get("code")
    engines = [json_object(c) for c in code] if isinstance(code, Sequence) else []
    where: list[str | int] = ["spec", "targets", 0]
    source: Mapping[str, Json] = target
    chosen = next((i for i, c in enumerate(engines) if c.get("engine") == "Rego"), None)
    if chosen is not None:
        where = [*where, "code", chosen, "source"]
        source = json_object(engines[chosen].get("source"))
    rego, libs = source.get("rego"), source.get("libs") or []
    if not isinstance(rego, str) or not rego.strip():
        others = ", ".join(sorted({str(c.get("engine")) for c in engines})) or "none"
        problems.extend(
            [
                doc.problem(
                    where,
                    f"no Rego to evaluate (engines: {others}); the renderer evaluates Rego only",
                    "add a `code` entry with `engine: Rego`, or keep this template outside policies/",
                )
            ]
        )
        return None
    if not isinstance(libs, Sequence) or not all(isinstance(lib, str) for lib in libs):
        problems.extend([doc.problem([*where, "libs"], "libs must be a list of Rego sources", TEMPLATE_HINT)])
        return None
    return ConstraintTemplate(
        kind, rego, tuple(str(lib) for lib in libs), doc.file, doc.line([*where, "rego"])
    )


def _first(value: Json) -> Json:
    return value[0] if isinstance(value, Sequence) and not isinstance(value, str) and value else None


def _constraint(
    doc: Doc, templates: Mapping[str, tuple[ConstraintTemplate, Mapping[str, Json]]], problems: Collector
) -> Constraint | None:
    errors = schema.check("gatekeeper-constraint", doc.data, doc)
    if errors:
        problems.extend(errors)
        return None
    data = json_object(doc.data)
    kind = str(data.get("kind"))
    if kind not in templates:
        known = ", ".join(sorted(templates)) or "none"
        problems.extend(
            [
                doc.problem(
                    ["kind"],
                    f"no ConstraintTemplate defines the kind {kind} in this policy set",
                    f"known: {known}",
                )
            ]
        )
        return None
    spec = json_object(data.get("spec"))
    params = spec.get("parameters")
    params = {} if params is None else params
    bad = _parameters(doc, params, templates[kind][1])
    if bad:
        problems.extend(bad)
        return None
    return Constraint(
        kind=kind,
        name=str(json_object(data.get("metadata")).get("name")),
        parameters=json_object(params),
        match=json_object(spec.get("match")),
        action=render_action(spec),
        file=doc.file,
        line=doc.line([]),
    )


def _parameters(doc: Doc, params: Json, openapi: Mapping[str, Json]) -> list[Problem]:
    """`spec.parameters` against the template's openAPIV3Schema, as the API server checks a constraint."""
    if not openapi or schema.valid_fast_against(openapi, params):
        return []  # (jsonschema, which words the errors, is loaded only for a no: 50 ms of each run)
    from jsonschema.exceptions import SchemaError

    try:
        validator = schema.compile_schema(openapi)
        errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    except SchemaError as exc:
        return [doc.problem(["kind"], f"its template's parameter schema is not valid: {exc.message}")]
    return [
        doc.problem(
            ["spec", "parameters", *e.absolute_path], str(e.message), "see the template's openAPIV3Schema"
        )
        for e in errors
    ]


def render_action(spec: Mapping[str, Json]) -> str:
    """What the constraint does at render time: its enforcementAction (deny when absent), or for
    `scoped` the most severe action scoped to a render point; "" when none is."""
    action = str(spec.get("enforcementAction") or "deny")
    if action != "scoped":
        return action
    scoped = spec.get("scopedEnforcementActions")
    actions = set()
    for entry in scoped if isinstance(scoped, Sequence) else []:
        points = json_object(entry).get("enforcementPoints")
        names = {str(json_object(p).get("name")) for p in points} if isinstance(points, Sequence) else set()
        if names & set(RENDER_POINTS):
            actions.add(str(json_object(entry).get("action")))
    return next((a for a in SEVERITY if a in actions), "")
