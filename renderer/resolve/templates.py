"""Jinja2 for platform-owned templates: sandboxed, strict, compiled once, errors with lines.

Developer strings reach templates only as values in the context, never as template source.
In YAML templates every interpolated string must be a plain, safe scalar unless the template
passes it through `tojson`: a developer value can never add YAML structure.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable, Mapping, Sequence

from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from renderer.data import Doc, Json, PathKey, walk
from renderer.errors import InputError, Problem

# What a template sees: the resource, the environment, the workloads around it (see resolve.nodes).
Context = Mapping[str, Json]

_SAFE_SCALAR = re.compile(r"^[A-Za-z0-9._/@=+-]([A-Za-z0-9._/@=+ :-]*[A-Za-z0-9._/@=+-])?$")


class TemplateFailure(InputError):
    """A template failed; `problem` names the definition file, the field and the line."""


def _to_json(value: object) -> Markup:
    return Markup(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _yaml_finalize(value: object) -> object:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, naming what is missing
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        if value == "" or not _SAFE_SCALAR.match(value) or ": " in value:
            raise TemplateError(
                f"value {json.dumps(value)[:60]} is not a plain YAML scalar; write it as "
                "{{ ... | tojson }}"
            )
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    raise TemplateError(f"a {type(value).__name__} cannot be placed in YAML unquoted; use tojson")


class _Sources(BaseLoader):
    def __init__(self) -> None:
        self.sources: dict[str, str] = {}

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        return self.sources[template], template, lambda: True


class _Explained(StrictUndefined):
    """A missing name says what was asked for and what exists, in the terms of the data the
    template reads (there is no 'backend' here (there is: api, worker)), not Jinja's
    "'dict object' has no attribute"."""

    @property
    def _undefined_message(self) -> str:
        name, obj = self._undefined_name, self._undefined_obj
        if self._undefined_hint or not isinstance(obj, Mapping):
            return str(super()._undefined_message)
        known = ", ".join(sorted(str(k) for k in obj)) or "nothing"
        return f"there is no {name!r} here (there is: {known})"


def _environment(finalize: Callable[[object], object] | None) -> ImmutableSandboxedEnvironment:
    loader = _Sources()
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=_Explained,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=finalize,
        cache_size=-1,
    )
    env.filters["tojson"] = _to_json
    return env


_ENVS = {"yaml": _environment(_yaml_finalize), "text": _environment(None)}
# each environment's globals (Jinja's `range`, `dict`, ...), never changed once it is made
_GLOBALS = {kind: dict(env.globals) for kind, env in _ENVS.items()}


def _template(kind: str, name: str, source: str) -> Template:
    env = _ENVS[kind]
    assert isinstance(env.loader, _Sources)  # every environment here is made by _environment
    sources = env.loader.sources
    if sources.get(name) != source:
        sources[name] = source
        if env.cache is not None:
            env.cache.clear()
    return env.get_template(name)


def _name(doc: Doc, path: PathKey) -> str:
    return f"{doc.file}::{'/'.join(str(p) for p in path)}"


def _block_offset(doc: Doc, path: PathKey, value: str) -> int:
    """Lines of a block scalar start on the line after its key."""
    return doc.line(path) + (1 if "\n" in value else 0) - 1


def render(kind: str, doc: Doc, path: PathKey, source: str, context: Context, stage: str) -> str:
    name = _name(doc, path)
    try:
        return _run(kind, _template(kind, name, source), context)
    except TemplateSyntaxError as exc:
        line = _block_offset(doc, path, source) + (exc.lineno or 1)
        raise TemplateFailure(
            Problem(
                doc.file,
                line,
                doc.problem(path, "").path,
                f"{stage}: template syntax error: {exc.message}",
            )
        ) from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
        lineno = _template_line(exc, name)
        line = _block_offset(doc, path, source) + lineno if lineno else doc.line(path)
        message = getattr(exc, "message", None) or str(exc)
        raise TemplateFailure(
            Problem(doc.file, line, doc.problem(path, "").path, f"{stage}: {message}")
        ) from None


def _run(kind: str, template: Template, context: Context) -> str:
    """`template.render(context)`, less two copies of the context. Jinja's `render` copies the
    context, then copies it again over a copy of the globals it reads through a `ChainMap`
    (iterated in Python), for every render: that was about half the time of resolving a fleet's
    resources (1,000 shared databases render 7,000 templates). Here the context goes over the
    environment's globals once (a template of these environments has no globals of its own).
    Whatever it raises is raised as `render` raises it: with the template's own line numbers."""
    env, plain = template.environment, _GLOBALS[kind]
    ctx = env.context_class(env, {**plain, **context}, template.name, template.blocks, globals=plain)
    try:
        return str(env.concat(template.root_render_func(ctx)))
    except Exception:
        env.handle_exception()


def _template_line(exc: BaseException, name: str) -> int:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == name and frame.lineno:
            return frame.lineno
    return 0


def render_value(doc: Doc, path: PathKey, value: Json, context: Context, stage: str) -> Json:
    """Render every string leaf of a structured value (outputs, module inputs) as text."""
    if isinstance(value, str):
        return render_text(doc, path, value, context, stage)
    if isinstance(value, Mapping):
        return render_object(doc, path, value, context, stage)
    if isinstance(value, list):
        return [render_value(doc, (*path, i), v, context, stage) for i, v in enumerate(value)]
    return value


def render_text(doc: Doc, path: PathKey, value: str, context: Context, stage: str) -> str:
    return render("text", doc, path, value, context, stage) if "{" in value else value


def render_object(
    doc: Doc, path: PathKey, value: Mapping[str, Json], context: Context, stage: str
) -> dict[str, Json]:
    return {k: render_value(doc, (*path, k), v, context, stage) for k, v in value.items()}


def render_texts(
    doc: Doc, path: PathKey, value: Mapping[str, str], context: Context, stage: str
) -> dict[str, str]:
    """A map of templates, rendered in the order they are written (the first failure is reported)."""
    return {k: render_text(doc, (*path, k), v, context, stage) for k, v in value.items()}


def check_definition(doc: Doc) -> list[Problem]:
    """Compile every template in a resource definition so syntax errors surface at validate."""
    problems: list[Problem] = []
    data = doc.data
    if not isinstance(data, Mapping):
        return problems  # a definition is a mapping: read_docs keeps no other
    fields: Sequence[str] = ("template", "outputs", "secret_outputs", "module")
    for key in fields:
        if key not in data:
            continue
        for path, value in walk(data[key], (key,)):
            if not isinstance(value, str):
                continue
            kind = "yaml" if key == "template" else "text"
            try:
                _template(kind, _name(doc, path), value)
            except TemplateSyntaxError as exc:
                line = _block_offset(doc, path, value) + (exc.lineno or 1)
                problems.append(
                    Problem(
                        doc.file,
                        line,
                        doc.problem(path, "").path,
                        f"template syntax error: {exc.message}",
                    )
                )
    return problems
