"""A conftest-compatible front end: namespaces, deny/violation/warn rules, exceptions, data, counts.

Policies are `.rego` files; `*_test.rego` files hold unit tests (`test_*` rules), which `run_tests`
runs as `opa test` does. Data files (`.json`, `.yaml`) are merged into `data` as conftest's `--data` does.
Packages named `combined` or `combined.*` see every document at once, as `conftest --combine`
gives them: a list of `{"path": …, "contents": …}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from renderer.checks.rego.engine import BATCH, Engine, PolicyEvalError, PolicyLoadError, Regorus, RuleHead
from renderer.data import Json, deep_merge
from renderer.model import PolicySource

RULE = re.compile(r"^(deny|violation|warn)(?:_([A-Za-z0-9_]+))?$")
EVALUATION = "*"  # the rule of a result that stands for a whole package failing to evaluate


@dataclass(frozen=True, slots=True)
class Result:
    namespace: str
    rule: str
    kind: str  # failure, warning or exception
    message: str
    path: str  # the document that produced it
    metadata: Mapping[str, Json] = field(default_factory=dict)


@dataclass(slots=True)
class Counts:
    successes: int = 0
    failures: int = 0
    warnings: int = 0
    exceptions: int = 0

    def add(self, other: Counts) -> None:
        self.successes += other.successes
        self.failures += other.failures
        self.warnings += other.warnings
        self.exceptions += other.exceptions


class PolicySet:
    """Policies compiled once into an engine; documents are checked one at a time or combined."""

    def __init__(
        self,
        source: PolicySource,
        data: Mapping[str, Json] | None = None,
        namespaces: Sequence[str] | None = None,
        engine: Callable[[], Engine] = Regorus,
        with_tests: bool = False,
    ) -> None:
        self.engine = engine()
        files = {**source.files, **(source.tests if with_tests else {})}
        for name in sorted(files):
            self.engine.add_policy(name, files[name])
        self.engine.add_data(deep_merge(dict(source.data), dict(data or {})))
        packages = self.engine.packages()
        chosen = [p for p in packages if namespaces is None or p.removeprefix("data.") in namespaces]
        self.per_document = [p for p in chosen if not _combined(p)]
        self.combined = [p for p in chosen if _combined(p)]
        # a combined package's value holds its helper rules too, which often gather whole documents
        # (every Deployment of the environment): only its reported rules' values are asked for
        heads = self.engine.rule_heads() if self.combined else []
        reported = [h for h in heads if h.kind != "function" and _reported(h.path[0])]
        self._rules = {p: sorted({h.path[0] for h in reported if h.package == p}) for p in self.combined}

    def check(self, path: str, document: Json) -> tuple[list[Result], Counts]:
        return self._run(self.per_document, path, document)

    def check_each(self, documents: Sequence[tuple[str, Json]]) -> list[tuple[list[Result], Counts]]:
        """`check` of every document, in order; each package evaluated over many documents at once."""
        out = []
        for start in range(0, len(documents), BATCH):  # a batch's values only: they outweigh the results
            batch = documents[start : start + BATCH]
            values = self.engine.evaluate_each(self.per_document, [document for _, document in batch])
            out += [
                self._collect([(p, values[p][i]) for p in self.per_document], path)
                for i, (path, _) in enumerate(batch)
            ]
        return out

    def check_combined(self, documents: Iterable[tuple[str, Json]]) -> tuple[list[Result], Counts]:
        """The combined packages on every document at once. Each is asked for the values of its
        deny, violation, warn and exception rules only (the rules conftest asks for by name): its
        helper rules' values, which in a combined package often gather every document of a kind,
        are neither copied out of the engine nor parsed. A package without such rules is not
        evaluated, as conftest asks nothing of it."""
        combined = [{"path": p, "contents": d} for p, d in documents]
        values: list[tuple[str, Json | PolicyEvalError]] = []
        for package in self.combined:
            if not self._rules[package]:
                continue  # nothing to report: conftest queries nothing in it
            try:
                values.append((package, self.engine.evaluate_rules(package, self._rules[package], combined)))
            except PolicyEvalError as exc:
                values.append((package, exc))
        return self._collect(values, "(combined)")

    def _run(self, packages: Sequence[str], path: str, document: Json) -> tuple[list[Result], Counts]:
        return self._collect([(p, self._evaluate(p, document)) for p in packages], path)

    def _evaluate(self, package: str, document: Json) -> Json | PolicyEvalError:
        try:
            return self.engine.evaluate(package, document)
        except PolicyEvalError as exc:
            return exc

    def _collect(
        self, values: Sequence[tuple[str, Json | PolicyEvalError]], path: str
    ) -> tuple[list[Result], Counts]:
        """The results and counts of each package's value (or evaluation error) for one document."""
        results: list[Result] = []
        counts = Counts()
        for package, value in values:
            namespace = package.removeprefix("data.")
            if isinstance(value, PolicyEvalError):
                # the package's rules did not run on this document: a failure naming where it stopped,
                # reported with every other finding instead of ending the run
                results.append(Result(namespace, EVALUATION, "failure", f"evaluation failed: {value}", path))
                counts.failures += 1
                continue
            if not isinstance(value, Mapping):
                continue
            excepted = {str(name) for item in _items(value.get("exception")) for name in _items(item)}
            for rule in sorted(value):
                match = RULE.match(rule)
                if not match:
                    continue
                found = [_result(namespace, rule, path, item) for item in _items(value[rule])]
                if not found:
                    counts.successes += 1
                    continue
                name = match.group(2) or ""
                if name in excepted:
                    kind = "exception"
                    counts.exceptions += len(found)
                elif match.group(1) == "warn":
                    kind = "warning"
                    counts.warnings += len(found)
                else:
                    kind = "failure"
                    counts.failures += len(found)
                results.extend(
                    Result(r.namespace, r.rule, kind, r.message, r.path, r.metadata) for r in found
                )
        return sorted(results, key=lambda r: (r.path, r.namespace, r.rule, r.message)), counts


def _reported(rule: str) -> bool:
    """A rule whose value `_collect` reads: deny, violation and warn rules, and the exceptions."""
    return RULE.match(rule) is not None or rule == "exception"


def _combined(package: str) -> bool:
    name = package.removeprefix("data.")
    return name == "combined" or name.startswith("combined.")


def _items(value: Json) -> list[Json]:
    if value is None or value is False:
        return []
    if isinstance(value, set | frozenset):
        return sorted(value, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _result(namespace: str, rule: str, path: str, item: Json) -> Result:
    if isinstance(item, Mapping):
        message = str(item.get("msg", json.dumps(item, sort_keys=True)))
        metadata = {k: v for k, v in item.items() if k != "msg"}
        # combined rules may name the document they are about: {"msg": …, "path": …}
        named = item.get("path")
        where = named if isinstance(named, str) else path
        return Result(namespace, rule, "failure", message, where, metadata)
    return Result(namespace, rule, "failure", str(item), path)


# ---- `opa test`: each test rule evaluated alone --------------------------------------------

TEST_PREFIX = "test_"
SKIP_PREFIX = "todo_test_"
MISSING_FUNCTION = re.compile(r"could not find function ([\w.]+)")
UNSAFE = re.compile(r"use of undefined variable `[^`]*` is unsafe")


@dataclass(frozen=True, slots=True)
class TestError:
    """Why a test could not be evaluated, in the parts OPA reports: `file:row:col: code: message`."""

    code: str
    message: str
    file: str = ""
    row: int = 0
    col: int = 0

    def render(self) -> str:
        where = f"{self.file}:{self.row}:{self.col}: " if self.file else ""
        return f"{where}{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test rule (one body of it) as `opa test` reports it."""

    file: str
    row: int
    col: int
    package: str  # data.x
    name: str  # test_a, or test_a#01 for its second definition
    duration: int = 0  # nanoseconds
    fail: bool = False
    skip: bool = False
    error: TestError | None = None
    output: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not (self.fail or self.skip or self.error)

    @property
    def outcome(self) -> str:
        if self.passed:
            return "PASS"
        return "FAIL" if self.fail else "SKIPPED" if self.skip else "ERROR"


@dataclass(frozen=True, slots=True)
class _Case:
    head: RuleHead
    name: str  # as reported
    query: str  # what to evaluate: the rule under its own, or its renamed, name
    partial: bool  # a partial object: passes when every value in it is true
    skip: bool = False


def run_tests(
    source: PolicySource,
    run: re.Pattern[str] | None = None,
    engine: Callable[[], Engine] = Regorus,
    clock: Callable[[], int] = lambda: 0,
) -> list[TestResult]:
    """Every `test_*` rule of every package evaluated by itself, as `opa test` does: true passes,
    false or undefined fails, an evaluation error errs, `todo_test_*` is skipped. A test name defined
    more than once runs each definition alone as `name`, `name#01`, `name#02`… (each renamed apart
    before loading). `run` keeps the tests whose `data.pkg.name` it matches (anywhere, as OPA's
    `--run`). `clock` gives nanoseconds for the durations. PolicyLoadError when a file does not parse
    or a test reaches a rule that cannot compile (an unsafe variable), as OPA refuses such a set."""
    modules = {**source.files, **source.tests}
    discovery = engine()
    for name in sorted(modules):
        discovery.add_policy(name, modules[name])
    cases, renames = _cases(discovery.rule_heads())
    runner = engine()
    for name in sorted(modules):
        runner.add_policy(name, _renamed(modules[name], renames.get(name, [])))
    runner.add_data(source.data)
    results = []
    for case in cases:
        if run is not None and not run.search(f"{case.head.package}.{case.name}"):
            continue
        results.append(_run(runner, case, clock))
    return results


def _cases(heads: Sequence[RuleHead]) -> tuple[list[_Case], dict[str, list[tuple[RuleHead, str]]]]:
    """The tests among the rule heads, and which heads to rename so that each definition of a
    repeated test name can be evaluated alone."""
    taken = {(h.package, h.path[0]) for h in heads}
    seen: dict[tuple[str, str], int] = {}
    cases: list[_Case] = []
    renames: dict[str, list[tuple[RuleHead, str]]] = {}
    for head in sorted(heads, key=lambda h: (h.file, h.start)):
        at = next((i for i, n in enumerate(head.path) if n.startswith((TEST_PREFIX, SKIP_PREFIX))), None)
        if at is None or head.kind in ("function", "default"):
            continue
        ref = ".".join(head.path[: at + 1])
        partial = head.kind == "object" or len(head.path) > at + 1
        if head.path[at].startswith(SKIP_PREFIX):
            cases.append(_Case(head, ref, ref, partial, skip=True))
            continue
        number = seen.get((head.package, ref), 0)
        seen[(head.package, ref)] = number + 1
        if number == 0 or at != 0:  # a test under a longer head keeps its one name (see README-policy)
            cases.append(_Case(head, ref if number == 0 else f"{ref}#{number:02d}", ref, partial))
            continue
        alias = f"{ref}__body{number:02d}"
        while (head.package, alias) in taken:
            alias += "_"
        taken.add((head.package, alias))
        renames.setdefault(head.file, []).append((head, alias))
        cases.append(_Case(head, f"{ref}#{number:02d}", alias, partial))
    return cases, renames


def _renamed(text: str, renames: Sequence[tuple[RuleHead, str]]) -> str:
    """`text` with each given head's first name replaced (byte offsets, from the end backwards)."""
    data = text.encode("utf-8")
    for head, alias in sorted(renames, key=lambda r: -r[0].start):
        data = data[: head.start] + alias.encode("utf-8") + data[head.end :]
    return data.decode("utf-8")


def _run(runner: Engine, case: _Case, clock: Callable[[], int]) -> TestResult:
    head = case.head
    base = TestResult(head.file, head.line, head.col, head.package, case.name)
    if case.skip:
        return replace(base, skip=True)
    started = clock()
    try:
        answer = runner.query(f"{head.package}.{case.query}")
    except PolicyEvalError as exc:
        return replace(base, duration=clock() - started, error=_error(str(exc)))
    duration = clock() - started
    value = answer.value
    passed = _all_true(value) if case.partial else value is True
    return replace(base, duration=duration, fail=not passed, output=answer.prints)


def _all_true(value: Json) -> bool:
    """A partial-object test passes when each of its values is true (nested objects alike)."""
    if not isinstance(value, Mapping):
        return False
    return all(_all_true(v) if isinstance(v, Mapping) else v is True for v in value.values())


def _error(message: str) -> TestError:
    """A test's evaluation error, split into where and what; a function regorus does not have is
    named as such, and an unsafe variable is a compile error for the whole run, as in OPA."""
    where, _, what = message.partition(": ")
    parts = where.rsplit(":", 2)
    if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
        return TestError("eval_error", message)
    file, row, col = parts[0], int(parts[1]), int(parts[2])
    if UNSAFE.search(what):
        raise PolicyLoadError(f"{where}: rego_unsafe_var_error: {what}")
    missing = MISSING_FUNCTION.search(what)
    if missing:
        what = (
            f"{missing.group(1)} is not available: regorus, the engine behind this command, "
            "does not implement it (or no such function is declared)"
        )
        return TestError("eval_builtin_error", what, file, row, col)
    return TestError("eval_error", what, file, row, col)
