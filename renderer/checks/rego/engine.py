"""The Rego engine behind a small interface; regorus (PyPI gordon-to-regorus) implements it.

Chosen by measurement (see docs/decisions.md): regopy mis-evaluated v0 rules and crashed on
`with`; regorus passes our conformance suite (tests/test_policy.py) at well under 1 ms a document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from renderer.data import Json
from renderer.errors import RendererError


class PolicyLoadError(RendererError):
    """A policy that does not parse or cannot be evaluated; the message names file and line."""


class PolicyEvalError(PolicyLoadError):
    """A policy that compiles but fails on the document it is given (a builtin given the wrong type,
    a division by zero); the message is one line: `file:line:col: error`."""


def _first_lines(text: str) -> str:
    """regorus appends a native backtrace; the Rego error is what precedes it."""
    head = text.strip().split("Stack backtrace:")[0].strip()
    return " ".join(line.strip() for line in head.splitlines() if line.strip() and line.strip() != "|")


def _eval_message(text: str) -> str:
    """`file:line:col: error` from regorus' report (`--> file:line:col`, the source line, `error: …`)."""
    lines = [line.strip() for line in text.split("Stack backtrace:")[0].splitlines()]
    where = next((line[3:].strip() for line in lines if line.startswith("-->")), "")
    error = next((line[6:].strip() for line in lines if line.startswith("error:")), "")
    return f"{where}: {error}" if where and error else _first_lines(text)


@dataclass(frozen=True, slots=True)
class RuleHead:
    """Where one rule definition stands, as the test runner needs it: its file, package, the ground
    part of its head (`p`, `a.test_b`), and the byte span of the head's first name for renaming."""

    file: str
    package: str  # `data.x.y`
    path: tuple[str, ...]  # the head's ground prefix: ("test_a",) or ("a", "test_b")
    kind: str  # complete, object (`p[k]` with a value), set (`p contains`), function, default
    line: int
    col: int
    start: int  # byte offsets of path[0] in the file
    end: int
    bodies: int  # a v0 rule may chain several bodies after one head


@dataclass(frozen=True, slots=True)
class Answer:
    """A query's value (None when undefined) and what `print` wrote while evaluating it."""

    value: Json
    prints: tuple[str, ...] = ()


BATCH = 256  # documents evaluated by one query (`Regorus.evaluate_each`)


class Engine(Protocol):
    def add_policy(self, name: str, text: str) -> str: ...
    def add_data(self, data: Mapping[str, Json]) -> None: ...
    def packages(self) -> list[str]: ...
    def evaluate(self, query: str, input_doc: Json) -> Json: ...
    def evaluate_each(
        self, queries: Sequence[str], inputs: Sequence[Json]
    ) -> dict[str, list[Json | PolicyEvalError]]: ...
    def evaluate_rules(self, package: str, rules: Sequence[str], input_doc: Json) -> Json: ...
    def rule_heads(self) -> list[RuleHead]: ...
    def query(self, query: str) -> Answer: ...


class Regorus:
    """Rego v1 first, v0 when a file only parses as v0 (conftest's `deny[msg] {…}` style).

    `v0_only`: every file as v0, as `opa test --v0-compatible` reads them."""

    def __init__(self, v0_only: bool = False) -> None:
        import regorus

        self._engine = regorus.Engine()
        self._packages: list[str] = []
        self._versions = (True,) if v0_only else (False, True)

    def add_policy(self, name: str, text: str) -> str:
        errors = []
        for v0 in self._versions:
            self._engine.set_rego_v0(v0)
            try:
                package = str(self._engine.add_policy(name, text))
            except RendererError:  # ours (a signal turned into an error while it parsed): not Rego's
                raise
            except Exception as exc:  # regorus raises plain exceptions with the parse error
                errors.append(_first_lines(str(exc)) or repr(exc))
                continue
            unnamed = _unaddressable(text)
            if unnamed:  # regorus joins the parts with dots: the package would never be queried
                raise PolicyLoadError(
                    f"{name}: the package part {unnamed} is not a plain name, so the package could "
                    "never be evaluated; write the package as dotted names (a.b.c)"
                )
            self._packages.append(package)
            return package
        if len(errors) == 1:
            raise PolicyLoadError(f"{name}: not valid Rego v0: {errors[0]}")
        raise PolicyLoadError(f"{name}: not valid Rego (v1: {errors[0]}; v0: {errors[-1]})")

    def add_data(self, data: Mapping[str, Json]) -> None:
        try:
            self._engine.add_data_json(json.dumps(data))
        except RuntimeError as exc:  # a value regorus cannot take (the readers refuse those they know)
            raise PolicyLoadError(f"data: {_first_lines(str(exc))}") from None

    def packages(self) -> list[str]:
        return sorted(set(self._packages))

    def evaluate(self, query: str, input_doc: Json) -> Json:
        try:  # an input regorus refuses is the evaluation's failure too: the package checked nothing
            self._engine.set_input_json(json.dumps(input_doc))
            result = json.loads(self._engine.eval_query_as_json(query))
        except RuntimeError as exc:
            raise PolicyEvalError(_eval_message(str(exc))) from None
        return _value(result)

    def evaluate_each(
        self, queries: Sequence[str], inputs: Sequence[Json]
    ) -> dict[str, list[Json | PolicyEvalError]]:
        """`evaluate` of each query on each input, in order: a value, or the error that input's
        evaluation raised. A batch of inputs is one input and one query per query (`with input as`),
        which spares a call, an input and two JSON conversions per document and query; a batch
        that fails is evaluated again one input at a time, so each error belongs to its own document."""
        out: dict[str, list[Json | PolicyEvalError]] = {q: [] for q in queries}
        for start in range(0, len(inputs), BATCH):
            chunk = inputs[start : start + BATCH]
            batch = json.dumps(chunk)
            try:
                self._engine.set_input_json(batch)
            except RuntimeError:  # one document regorus refuses: each of them alone says which
                for query in queries:
                    out[query].extend(self._one(query, doc) for doc in chunk)
                continue
            for query in queries:
                try:
                    text = self._engine.eval_query_as_json(
                        f"{{i: x | some i, d in input; x := {query} with input as d}}"
                    )
                except RuntimeError:
                    out[query].extend(self._one(query, doc) for doc in chunk)
                    self._engine.set_input_json(batch)  # `_one` set each input of its own
                    continue
                values = _value(json.loads(text))
                assert isinstance(values, Mapping)
                out[query].extend(values.get(str(i)) for i in range(len(chunk)))  # absent: undefined
        return out

    def evaluate_rules(self, package: str, rules: Sequence[str], input_doc: Json) -> Json:
        """The package's value restricted to `rules`, in one query on one input. The package is
        evaluated as a whole (a helper that many rules use is computed once; an error anywhere in
        it is the package's `PolicyEvalError`), but only the values of `rules` are copied out of
        the engine and parsed. A rule that is undefined is absent, as in the package's value."""
        query = f"{{r: v | some r in {json.dumps(list(rules))}; v := {package}[r]}}"
        try:
            self._engine.set_input_json(json.dumps(input_doc))
            result = json.loads(self._engine.eval_query_as_json(query))
        except RuntimeError as exc:
            raise PolicyEvalError(_eval_message(str(exc))) from None
        finally:
            self._engine.set_input_json("{}")  # a combined input is every object: not kept a moment longer
        value = _value(result)
        return dict(value) if isinstance(value, Mapping) else {}

    def _one(self, query: str, input_doc: Json) -> Json | PolicyEvalError:
        try:
            return self.evaluate(query, input_doc)
        except PolicyEvalError as exc:
            return exc

    def query(self, query: str) -> Answer:
        """`query` on the input as it stands (none, for a fresh engine: tests bring their own with `with`)."""
        self._engine.set_gather_prints(True)
        try:
            result = json.loads(self._engine.eval_query_as_json(query))
        except RuntimeError as exc:
            raise PolicyEvalError(_eval_message(str(exc))) from None
        finally:
            prints = tuple(str(line) for line in self._engine.take_prints())
        return Answer(_value(result), prints)

    def rule_heads(self) -> list[RuleHead]:
        """Every rule definition of every file added, in file order, read from regorus' syntax tree."""
        heads = []
        for module in json.loads(self._engine.get_ast_as_json()):
            file = str(module["source"]["file"])
            names, _ = _ground(module["ast"]["package"]["refr"])
            package = "data." + ".".join(str(n) for n in names)
            for rule in module["ast"]["rules"]:
                head = _head(file, package, rule)
                if head is not None:
                    heads.append(head)
        return heads


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CLAUSE = re.compile(r"\A(?:[ \t\r\f]*(?:#[^\n]*)?\n)*[ \t]*package(?=[ \t\n\r#])")


def _unaddressable(text: str) -> str:
    """A quoted part of the package clause that is not a plain name (`package combined["a.b"]`),
    as written; "" when every part is one. regorus names such a package `data.combined.a.b` (and
    `"\\u0062"` literally), a path that reaches nothing: its rules would silently never run. The
    clause may run over lines inside brackets, with comments there; it ends at whitespace or a
    comment outside them."""
    start = _CLAUSE.match(text)
    if start is None:
        return ""  # regorus parsed it, so there is a clause; one this does not find is not checked
    i, depth, started = start.end(), 0, False
    while i < len(text):
        c = text[i]
        if c in '"`':
            end = _string_end(text, i)
            part = text[i:end]
            if not _PLAIN.fullmatch(part[1:-1]):
                return part
            i, started = end, True
        elif c == "#":
            if depth == 0 and started:
                return ""
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        elif c.isspace():
            if depth == 0 and started:
                return ""
            i += 1
        else:
            depth += (c == "[") - (c == "]")
            i, started = i + 1, True
    return ""


def _string_end(text: str, at: int) -> int:
    """The index after the string that starts at `at` (a quoted one, escapes skipped, or a raw one)."""
    quote, i = text[at], at + 1
    while i < len(text) and text[i] != quote:
        i += 2 if quote == '"' and text[i] == "\\" else 1
    return min(i + 1, len(text))


def _value(result: Mapping[str, Json]) -> Json:
    """The first expression's value in regorus' answer; None when the query is undefined."""
    rows = result.get("result") or []
    if not isinstance(rows, Sequence) or not rows:
        return None
    expressions = _node(rows[0])["expressions"]
    assert isinstance(expressions, Sequence)
    return _node(expressions[0])["value"]


# regorus' syntax tree is plain JSON; these walk the few shapes a rule head takes
Node = Mapping[str, Json]


def _node(value: Json) -> Node:
    assert isinstance(value, Mapping), value
    return value


def _ground(ref: Json) -> tuple[list[str | None], Node]:
    """The names of a head reference (`a.b["c"]` → a, b, c; None for a variable or computed index,
    which ends its ground part) and the span of its first name."""
    ((kind, value),) = _node(ref).items()
    node = _node(value)
    if kind == "Var":
        return [str(node["value"])], _node(node["span"])
    if kind == "RefDot":
        names, span = _ground(node["refr"])
        field = node["field"]
        assert isinstance(field, Sequence)
        return [*names, str(field[1])], span
    if kind == "RefBrack":
        names, span = _ground(node["refr"])
        index = _node(node["index"])
        key = str(_node(index["String"])["value"]) if "String" in index else None
        return [*names, key], span
    return [None], {}


def _head(file: str, package: str, rule: Json) -> RuleHead | None:
    """The head of one rule definition; None for a shape the runner has no use for."""
    rule = _node(rule)
    if "Default" in rule:
        default = _node(rule["Default"])
        names, span = _ground(default["refr"])
        return _made(file, package, names, "default", _node(default["span"]), span, 1)
    if "Spec" not in rule:
        return None
    spec = _node(rule["Spec"])
    ((form, value),) = _node(spec["head"]).items()
    names, span = _ground(_node(value)["refr"])
    bodies = spec.get("bodies")
    count = len(bodies) if isinstance(bodies, Sequence) else 1
    kind = {"Set": "set", "Func": "function"}.get(form, "object" if names[-1] is None else "complete")
    return _made(file, package, names, kind, _node(spec["span"]), span, count)


def _made(
    file: str, package: str, names: list[str | None], kind: str, where: Node, span: Node, bodies: int
) -> RuleHead | None:
    ground: list[str] = []
    for name in names:
        if name is None:
            break
        ground.append(name)
    if not ground or not span:
        return None
    line, col = (int(str(where[k])) for k in ("line", "col"))
    start, end = (int(str(span[k])) for k in ("start", "end"))
    return RuleHead(file, package, tuple(ground), kind, line, col, start, end, bodies)
