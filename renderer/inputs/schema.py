"""JSON Schema checking with validators built once, errors located by YAML path and line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import jsonschema_rs

from renderer.data import Doc, Json
from renderer.errors import Problem

if TYPE_CHECKING:  # jsonschema itself is imported when an error is worded: it costs 50 ms at start-up
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator as SchemaValidator


def _pattern(
    validator: SchemaValidator, pattern: str, instance: object, schema: object
) -> Iterator[ValidationError]:
    """`pattern` as JSON Schema means it (ECMA-262): `$` is the end of the string.

    Python's `$` also matches before a final newline, so `name: "web\\n"` would pass
    `^[a-z0-9-]+$` and become a file name with a newline in it."""
    if not isinstance(instance, str):
        return
    anchored = pattern.endswith("$") and not pattern.endswith("\\$")
    end = pattern[:-1] + r"\Z" if anchored else pattern
    if re.search(end, instance, re.ASCII) is None:  # ECMA's (and Go's) \d and \w are ASCII only
        from jsonschema.exceptions import ValidationError

        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _validator_class() -> type[SchemaValidator]:
    """Draft 2020-12 with the ECMA-262 reading of `pattern`; every schema the renderer checks uses it.
    jsonschema leaves `extend` unannotated; its result is a validator class like the one it extends."""
    from jsonschema import Draft202012Validator, validators

    extended: type[SchemaValidator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"pattern": _pattern}
    )
    return extended


def compile_schema(schema: Mapping[str, Json]) -> SchemaValidator:
    return _validator_class()(schema)


def _text(name: str) -> str:
    return resources.files("renderer.inputs.schemas").joinpath(f"{name}.json").read_text("utf-8")


@cache
def validator(name: str) -> SchemaValidator:
    return compile_schema(json.loads(_text(name)))


@cache
def _fast(name: str) -> jsonschema_rs.Validator:
    """The same schema compiled by jsonschema-rs: about 100x faster, and its `pattern` is ECMA's
    (ASCII `\\d` and `\\w`, `$` at the very end; its `\\s` is wider, so at most stricter). It only
    says "valid": anything it refuses is checked again by `validator`, which finds the errors."""
    return jsonschema_rs.validator_for(json.loads(_text(name)))


def _valid_fast(name: str, data: Json) -> bool:
    return says_valid(_fast(name), data)


def says_valid(fast: jsonschema_rs.Validator | None, data: Json) -> bool:
    """Whether jsonschema-rs finds `data` valid: the only answer of it ever trusted (every fast
    path: Score and platform files here, Kubernetes objects, custom resources, catalog entities).
    No validator, or a value it cannot take: False, and the reference decides."""
    try:
        return fast is not None and bool(fast.is_valid(data))
    except (ValueError, TypeError):
        return False


def reads_alike(schema: Json) -> bool:
    """Whether jsonschema-rs can only be stricter than jsonschema on this schema. Not so with `\\s`
    or `\\S` in a pattern (Python's `\\s` also takes U+001C-U+001F and U+0085, ECMA-262's takes
    U+FEFF, so `[^\\s]` lets through what Python refuses), nor with `multipleOf` (floats rounded
    differently)."""
    if isinstance(schema, Mapping):
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and re.search(r"\\[sS]", pattern):
            return False
        if isinstance(schema.get("multipleOf"), int | float):  # the keyword (a property so named is a schema)
            return False
        return all(reads_alike(v) for v in schema.values())
    if isinstance(schema, list):
        return all(reads_alike(v) for v in schema)
    return True


def valid_fast_against(schema: Mapping[str, Json], data: Json) -> bool:
    """Whether jsonschema-rs finds `data` valid against `schema` read as Draft 2020-12, as
    `compile_schema` reads it: a yes only where it can only be stricter (`reads_alike`). Anything
    else (a no, a schema it cannot compile) is for `compile_schema` to decide."""
    if not reads_alike(schema):
        return False
    try:
        fast = jsonschema_rs.Draft202012Validator(dict(schema))
    except (ValueError, TypeError):
        return False
    return says_valid(fast, data)


# The 2020-12 meta-schema's keywords whose values it checks with a `format` (uri, uri-reference,
# regex): jsonschema asserts those formats when it checks a schema, jsonschema-rs does not
_FORMATTED = frozenset({"$id", "$schema", "$ref", "$dynamicRef", "$vocabulary", "$anchor", "$dynamicAnchor"})


def meta_valid_fast(schema: Json) -> bool:
    """Whether `Draft202012Validator.check_schema` would surely accept `schema`, known without
    loading jsonschema (50 ms of a publish that renders nothing): jsonschema-rs finds it valid
    against the meta-schema, every regular expression in it compiles in Python, and it has none
    of the keywords whose format only jsonschema checks. A no is for jsonschema to decide."""
    if not isinstance(schema, Mapping) or not _formats_alike(schema):
        return False
    try:
        return bool(jsonschema_rs.meta.is_valid(dict(schema)))
    except (ValueError, TypeError):
        return False


def _formats_alike(value: Json) -> bool:
    """Over every object, whatever it is (a keyword's value, or data in `const`, `enum`,
    `default`): no formatted keyword, and `pattern` and `patternProperties` Python reads."""
    if isinstance(value, list):
        return all(_formats_alike(v) for v in value)
    if not isinstance(value, Mapping):
        return True
    if _FORMATTED & value.keys():
        return False
    pattern = value.get("pattern")
    properties = value.get("patternProperties")
    regexes = [pattern] if isinstance(pattern, str) else []
    regexes += list(properties) if isinstance(properties, Mapping) else []
    for regex in regexes:
        try:
            re.compile(regex)
        except (re.error, TypeError, ValueError, RecursionError, OverflowError):
            return False
    return all(_formats_alike(v) for v in value.values())


def _leaf(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf failures pick the branch that got furthest: its message is the useful one."""
    if error.context and error.validator in ("oneOf", "anyOf"):
        best = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.context or [])))
        if len(best.absolute_path) > len(error.absolute_path):
            return _leaf(best)
    return error


def _message(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        return str(error.message).replace("Additional properties are not allowed", "unknown field")
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "oneOf" and schema.get("oneOf", [{}])[0].get("required"):
        options = [next(iter(s["required"])) for s in schema["oneOf"]]
        return f"exactly one of {', '.join(options)} must be given"
    if error.validator == "not":
        return "the 'target' field belongs to the deprecated list form only; use the map key"
    return str(error.message)


def check(name: str, data: Json, doc: Doc) -> list[Problem]:
    """Every schema error in `data`, each at its YAML path and line."""
    if _valid_fast(name, data):
        return []
    problems = []
    for error in validator(name).iter_errors(data):
        leaf = _leaf(error)
        path = list(leaf.absolute_path)
        if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
            allowed = leaf.schema.get("properties", {}) if isinstance(leaf.schema, dict) else {}
            extra = sorted(k for k in leaf.instance if k not in allowed)
            if extra:
                path = [*path, extra[0]]
        problems.append(doc.problem(path, _message(leaf), "see the schema " + name))
    return problems


def is_valid(name: str, data: Json) -> bool:
    return _valid_fast(name, data) or bool(validator(name).is_valid(data))
