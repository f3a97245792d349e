"""A `gator verify` runner for the tests: a suite.yaml's cases through the renderer's Gatekeeper check.

Each test of a suite names a template and a constraint; each case an object (or an AdmissionReview)
to review, optional inventory files, and assertions (`violations: yes|no|N`, `message: regex`), as
gatekeeper's pkg/gator/verify reads them. A template without Rego (CEL only) cannot be evaluated here:
its tests are counted as skipped, never as passed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from renderer.checks.rego import gkmatch
from renderer.checks.rego.engine import PolicyLoadError
from renderer.checks.rego.gatekeeper import Admission, compile_template
from renderer.checks.rego.policyset import EVALUATION, Result
from renderer.data import Doc, Json
from renderer.errors import Collector
from renderer.inputs import gatekeeper
from renderer.inputs.yamlio import load_text
from renderer.model import Constraint, PolicySource


@dataclass
class Outcome:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def docs(path: Path) -> list[Doc]:
    return [d for d in load_text(path.read_text(encoding="utf-8"), str(path)) if isinstance(d.data, dict)]


def run_suite(directory: Path) -> Outcome:
    outcome = Outcome()
    suite = docs(directory / "suite.yaml")[0].data
    assert isinstance(suite, Mapping)
    for test in _list(suite.get("tests")):
        assert isinstance(test, Mapping)
        name = f"{directory.name}/{test.get('name')}"
        if suite.get("skip") or test.get("skip"):
            outcome.skipped.append(name)
            continue
        _run_test(directory, name, test, outcome)
    return outcome


def _list(value: Json) -> list[Json]:
    return list(value) if isinstance(value, list) else []


def _run_test(directory: Path, name: str, test: Mapping[str, Json], outcome: Outcome) -> None:
    problems = Collector()
    found = docs(directory / str(test["template"])) + docs(directory / str(test["constraint"]))
    if test.get("expansion"):
        found += docs(directory / str(test["expansion"]))
    templates, constraints, expansions = gatekeeper.read(found, problems)
    try:
        for template in templates:
            compile_template(template)
    except PolicyLoadError as exc:
        problems.add("", 0, "", str(exc))
    if test.get("invalid"):
        (outcome.passed if problems.items else outcome.failed).append(f"{name}: expected invalid")
        return
    if any("the renderer evaluates Rego only" in p.message for p in problems.items):
        outcome.skipped.append(f"{name}: no Rego engine")
        return
    if problems.items or len(constraints) != 1:
        outcome.failed.append(f"{name}: {[p.render() for p in problems.items]}")
        return
    source = PolicySource({}, {}, {}, templates, constraints, expansions)
    for case in _list(test.get("cases")):
        assert isinstance(case, Mapping)
        label = f"{name}/{case.get('name')}"
        if case.get("skip"):
            outcome.skipped.append(label)
            continue
        error = _run_case(directory, source, constraints[0], case)
        (outcome.failed if error else outcome.passed).append(f"{label}{': ' + error if error else ''}")


def _run_case(directory: Path, source: PolicySource, constraint: Constraint, case: Mapping[str, Json]) -> str:
    inventory = [("", d.data) for f in _list(case.get("inventory")) for d in docs(directory / str(f))]
    admission = Admission(source, inventory)
    obj = docs(directory / str(case["object"]))[0].data
    assert isinstance(obj, Mapping)
    results = _review(admission, constraint, obj)
    if any(r.rule == EVALUATION for r in results):
        return f"evaluation failed: {[r.message for r in results]}"
    for assertion in _list(case.get("assertions")):
        assert isinstance(assertion, Mapping)
        error = _assert(assertion, results)
        if error:
            return error
    return ""


def _review(admission: Admission, constraint: Constraint, obj: Mapping[str, Json]) -> list[Result]:
    if obj.get("kind") != "AdmissionReview":
        return admission.check([("object", obj)])[0]  # the object and what it implies (expansion)
    request = dict(obj.get("request") or {})  # type: ignore[call-overload]
    new, old = request.get("object"), request.get("oldObject")
    if request.get("operation") == "DELETE":
        request["object"] = old  # Gatekeeper reviews the old object of a DELETE
    candidates = [o for o in (new, old) if isinstance(o, Mapping)]
    if not any(gkmatch.matches(constraint.match, o, None) for o in candidates):
        return []
    request.setdefault("namespaceObject", None)
    return admission.evaluate("request", request, constraint)


def _assert(assertion: Mapping[str, Json], results: list[Result]) -> str:
    pattern = assertion.get("message")
    matching = [r for r in results if pattern is None or re.search(str(pattern), r.message)]
    want = assertion.get("violations", "yes")
    messages = [r.message for r in results]
    if want == "yes" and not matching:
        return f"want violations matching {pattern!r}, got {messages}"
    if want == "no" and matching:
        return f"want no violations matching {pattern!r}, got {messages}"
    if isinstance(want, int) and len(matching) != want:
        return f"want {want} violations matching {pattern!r}, got {messages}"
    return ""
