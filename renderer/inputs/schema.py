"""JSON Schema checking with validators built once, errors located by YAML path and line."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from renderer.data import Doc, Json
from renderer.errors import Problem


@cache
def validator(name: str) -> Draft202012Validator:
    text = resources.files("renderer.inputs.schemas").joinpath(f"{name}.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


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
    return bool(validator(name).is_valid(data))
