"""A conftest-compatible front end: namespaces, deny/violation/warn rules, exceptions, data, counts.

Policies are `.rego` files; `*_test.rego` files hold unit tests (`test_*` rules) and are loaded only
by `run_tests`. Data files (`.json`, `.yaml`) are merged into `data` as conftest's `--data` does.
Packages named `combined` or `combined.*` see every document at once, as `conftest --combine`
gives them: a list of `{"path": …, "contents": …}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from renderer.checks.rego.engine import Engine, PolicyEvalError, Regorus
from renderer.data import Json, deep_merge
from renderer.model import PolicySource

RULE = re.compile(r"^(deny|violation|warn)(?:_([A-Za-z0-9_]+))?$")
EVALUATION = "*"  # the rule of a result that stands for a whole package failing to evaluate
TEST_RULE = re.compile(r"^test_[A-Za-z0-9_]*$")


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

    def check(self, path: str, document: Json) -> tuple[list[Result], Counts]:
        return self._run(self.per_document, path, document)

    def check_combined(self, documents: Iterable[tuple[str, Json]]) -> tuple[list[Result], Counts]:
        combined = [{"path": p, "contents": d} for p, d in documents]
        return self._run(self.combined, "(combined)", combined)

    def _run(self, packages: Sequence[str], path: str, document: Json) -> tuple[list[Result], Counts]:
        results: list[Result] = []
        counts = Counts()
        for package in packages:
            namespace = package.removeprefix("data.")
            try:
                value = self.engine.evaluate(package, document)
            except PolicyEvalError as exc:
                # the package's rules did not run on this document: a failure naming where it stopped,
                # reported with every other finding instead of ending the run
                results.append(Result(namespace, EVALUATION, "failure", f"evaluation failed: {exc}", path))
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


@dataclass(frozen=True, slots=True)
class TestOutcome:
    package: str
    name: str
    passed: bool


def run_tests(source: PolicySource, engine: Callable[[], Engine] = Regorus) -> list[TestOutcome]:
    """Every `test_*` rule of every package, as `opa test` runs them: true passes, else fails."""
    policies = PolicySet(source, engine=engine, with_tests=True)
    outcomes = []
    for package in policies.engine.packages():
        value = policies.engine.evaluate(package, {})
        names = sorted(_test_rules(source, package))
        for name in names:
            passed = isinstance(value, Mapping) and value.get(name) is True
            outcomes.append(TestOutcome(package.removeprefix("data."), name, passed))
    return outcomes


def _test_rules(source: PolicySource, package: str) -> set[str]:
    """Test rule names declared in the test files of `package` (a rule that fails is undefined)."""
    wanted = package.removeprefix("data.")
    names: set[str] = set()
    for text in source.tests.values():
        declared = re.search(r"^package\s+([\w.]+)", text, re.M)
        if declared and declared.group(1) == wanted:
            names.update(re.findall(r"^(test_[A-Za-z0-9_]*)\b", text, re.M))
    return names
