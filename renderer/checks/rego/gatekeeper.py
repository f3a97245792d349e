"""Gatekeeper ConstraintTemplates and constraints on rendered Kubernetes objects, as `gator test` runs them.

Each object is reviewed as the admission request Gatekeeper builds from it (`input.review`: kind as
group/version/kind, name, namespace, `operation: CREATE`, the object, and `namespaceObject`), each
constraint whose match selects it runs its template's `violation` rules with `input.parameters` set
to its `spec.parameters`. `data.inventory` holds every object of the render (gator adds every object
it is given), keyed as Gatekeeper keys it: `cluster[apiVersion][kind][name]` and
`namespace[ns][apiVersion][kind][name]`. Each template compiles in an engine of its own, with its
`libs` (whose packages must start with `lib.`, as Gatekeeper requires), so templates never clash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from renderer.checks.rego import gkmatch
from renderer.checks.rego.engine import Engine, PolicyEvalError, PolicyLoadError, Regorus
from renderer.checks.rego.expansion import ExpansionError, expand
from renderer.checks.rego.policyset import EVALUATION, MISSING_FUNCTION, UNSAFE, Counts, Result
from renderer.data import Json, json_object
from renderer.model import Constraint, ConstraintTemplate, Expansion, PolicySource

OPERATION = "CREATE"  # what applying a rendered object asks of the cluster the first time
Document = tuple[str, Json]  # rendered path, object


@dataclass(frozen=True, slots=True)
class Compiled:
    template: ConstraintTemplate
    engine: Engine
    query: str  # data.<package>.violation


def compile_template(template: ConstraintTemplate, engine: Callable[[], Engine] = Regorus) -> Compiled:
    """The template's Rego and libs in an engine of their own; PolicyLoadError naming the file when the
    Rego does not parse or compile, a lib is not under `lib.`, or no `violation` rule is defined."""
    where = f"{template.file} (ConstraintTemplate {template.kind}, Rego from line {template.line})"
    try:
        return _compile(template, engine())
    except PolicyLoadError as exc:
        raise PolicyLoadError(f"{where}: {exc}") from None


def _compile(template: ConstraintTemplate, compiled: Engine) -> Compiled:
    for index, lib in enumerate(template.libs):
        package = compiled.add_policy(f"{template.file}#libs[{index}]", lib)
        if not package.startswith("data.lib."):
            raise PolicyLoadError(f"libs[{index}] is {package}; a lib's package must start with lib.")
    package = compiled.add_policy(f"{template.file}#rego", template.rego)
    if not any(h.package == package and h.path[:1] == ("violation",) for h in compiled.rule_heads()):
        raise PolicyLoadError(f"package {package} defines no `violation` rule")
    query = f"{package}.violation"
    try:
        compiled.evaluate(query, {"review": {}, "parameters": {}})  # regorus checks rule bodies on first use
    except PolicyEvalError as exc:
        # an unsafe variable or an unknown function is the template's fault whatever the input; any
        # other error (a division by zero…) belongs to the object it meets, and fails that review
        if UNSAFE.search(str(exc)) or MISSING_FUNCTION.search(str(exc)):
            raise PolicyLoadError(str(exc)) from None
    return Compiled(template, compiled, query)


class Admission:
    """A policy set's templates compiled once, its constraints in order (kind, name)."""

    def __init__(
        self, source: PolicySource, objects: Sequence[Document] = (), engine: Callable[[], Engine] = Regorus
    ) -> None:
        self.templates = {t.kind: compile_template(t, engine) for t in source.templates}
        self.constraints = [c for c in source.constraints if c.action]
        self.expansions = source.expansions
        # only templates that name the inventory get it (Gatekeeper refuses any other reference to
        # data than data.inventory and data.lib): loading it costs ~25 ms per template at 200 objects
        readers = [c for c in self.templates.values() if _reads_inventory(c.template)]
        if readers:
            inventory = {"inventory": build_inventory(obj for _, obj in objects)}
            for compiled in readers:
                compiled.engine.add_data(inventory)
        self.namespaces = {
            _name(obj): obj for _, obj in objects if isinstance(obj, Mapping) and gkmatch.is_namespace(obj)
        }

    def check(self, documents: Iterable[Document]) -> tuple[list[Result], Counts]:
        """Every constraint on every object, and on what each object implies (ExpansionTemplates)."""
        results: list[Result] = []
        counts = Counts()
        for path, obj in documents:
            if not isinstance(obj, Mapping):
                continue
            try:
                targets: list[tuple[Expansion | None, Json]] = [(None, obj), *expand(obj, self.expansions)]
            except ExpansionError as exc:
                results.append(
                    Result("ExpansionTemplate", EVALUATION, "failure", f"evaluation failed: {exc}", path)
                )
                counts.failures += 1
                continue
            for implied_by, target in targets:
                for constraint in self.constraints:
                    found = self.review(path, json_object(target), constraint, implied_by)
                    counts.successes += not found
                    counts.failures += sum(r.kind == "failure" for r in found)
                    counts.warnings += sum(r.kind == "warning" for r in found)
                    results += found
        return sorted(results, key=lambda r: (r.path, r.namespace, r.rule, r.message)), counts

    def review(
        self, path: str, obj: Mapping[str, Json], constraint: Constraint, implied_by: Expansion | None = None
    ) -> list[Result]:
        """What one constraint finds in one object (nothing when its match does not select it); for an
        object an ExpansionTemplate implied, its messages say so and its action may replace the
        constraint's, as Gatekeeper reports them on the parent."""
        namespace = self.namespaces.get(str(json_object(obj.get("metadata")).get("namespace") or ""))
        try:
            if not gkmatch.matches(constraint.match, obj, namespace, generated=implied_by is not None):
                return []
        except gkmatch.MatchError as exc:
            return [_failed(path, constraint, str(exc))]
        found = self.evaluate(path, review_request(obj, namespace), constraint)
        if implied_by is None:
            return found
        action = implied_by.action or constraint.action
        return [_implied(r, implied_by.name, action) for r in found]

    def evaluate(self, path: str, request: Mapping[str, Json], constraint: Constraint) -> list[Result]:
        """The constraint's template on one admission request (`input.review`), matched or not."""
        compiled = self.templates[constraint.kind]
        try:
            value = compiled.engine.evaluate(
                compiled.query, {"review": request, "parameters": constraint.parameters}
            )
        except PolicyEvalError as exc:
            return [_failed(path, constraint, str(exc))]
        return [_result(path, constraint, item) for item in _items(value)]


def _reads_inventory(template: ConstraintTemplate) -> bool:
    return any("inventory" in text for text in (template.rego, *template.libs))


def _name(obj: Mapping[str, Json]) -> str:
    return str(json_object(obj.get("metadata")).get("name") or "")


def review_request(obj: Mapping[str, Json], namespace: Mapping[str, Json] | None) -> dict[str, Json]:
    """`input.review` as Gatekeeper builds it from an object (an AdmissionRequest, as JSON)."""
    group, version = gkmatch.group_version(obj)
    meta = json_object(obj.get("metadata"))
    request: dict[str, Json] = {
        "uid": "",
        "kind": {"group": group, "version": version, "kind": str(obj.get("kind") or "")},
        "resource": {"group": "", "version": "", "resource": ""},
        "operation": OPERATION,
        "userInfo": {},
        "object": obj,
        "oldObject": None,
        "namespaceObject": namespace,
    }
    if meta.get("name"):
        request["name"] = str(meta["name"])
    if meta.get("namespace"):
        request["namespace"] = str(meta["namespace"])
    return request


def build_inventory(objects: Iterable[Json]) -> dict[str, Json]:
    """`data.inventory` as Gatekeeper's sync (and gator) lays out the objects it holds."""
    cluster: dict[str, dict[str, dict[str, Json]]] = {}
    namespaced: dict[str, dict[str, dict[str, dict[str, Json]]]] = {}
    for obj in objects:
        if not isinstance(obj, Mapping) or not obj.get("apiVersion") or not obj.get("kind"):
            continue
        meta = json_object(obj.get("metadata"))
        api, kind, name = str(obj["apiVersion"]), str(obj["kind"]), str(meta.get("name") or "")
        ns = str(meta.get("namespace") or "")
        if ns:
            namespaced.setdefault(ns, {}).setdefault(api, {}).setdefault(kind, {})[name] = obj
        else:
            cluster.setdefault(api, {}).setdefault(kind, {})[name] = obj
    return {"cluster": cluster, "namespace": namespaced}


def _items(value: Json) -> list[Json]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return sorted(value, key=lambda v: json.dumps(v, sort_keys=True))


def _result(path: str, constraint: Constraint, item: Json) -> Result:
    found = json_object(item)
    message = str(found.get("msg", json.dumps(item, sort_keys=True)))
    return _acting(
        Result(constraint.kind, constraint.name, "", message, path, {"details": found.get("details") or {}}),
        constraint.action,
    )


def _acting(result: Result, action: str) -> Result:
    """A violation as a finding under an action: deny fails; warn and dryrun warn (dryrun says so)."""
    message = result.message + (" (dryrun)" if action == "dryrun" else "")
    kind = "failure" if action == "deny" else "warning"
    metadata = {**result.metadata, "enforcementAction": action}
    return Result(result.namespace, result.rule, kind, message, result.path, metadata)


def _implied(result: Result, expansion: str, action: str) -> Result:
    """A finding on an implied object, reported on the rendered one: `[Implied by NAME] msg`."""
    if result.rule == EVALUATION:
        return result
    message = result.message.removesuffix(" (dryrun)")
    return _acting(replace(result, message=f"[Implied by {expansion}] {message}"), action)


def _failed(path: str, constraint: Constraint, why: str) -> Result:
    """A constraint that could not be evaluated on an object checked nothing: it fails, closed."""
    message = f"evaluation failed for {constraint.kind}/{constraint.name}: {why}"
    return Result(constraint.kind, EVALUATION, "failure", message, path)
