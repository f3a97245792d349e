"""`templates._run` renders as Jinja's own `Template.render` does: the same text, or the same error
with the same line numbers. It builds Jinja's context itself (without `render`'s two copies of the
context), so this is what would catch a Jinja release that changes how `render` works."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import partial

import pytest
from jinja2.exceptions import SecurityError

from renderer.resolve import templates

# (name, source): what the platform's templates use, and what fails in them
TEMPLATES = [
    ("plain", "{{ res.name }}-{{ env.id }}"),
    ("filters", "{{ res.name | upper }} {{ items | join(',') }} {{ items | length }}"),
    ("json", "{{ res | tojson }}"),
    ("set", "{% set n = res.name ~ '-x' %}{{ n }}"),
    ("shadow", "{% set range = 3 %}{{ range }}"),
    ("block-set", "{% set body %}a{{ res.name }}b{% endset %}{{ body }}"),
    ("loop", "{% for i in items %}{{ loop.index }}:{{ i }}{% if not loop.last %},{% endif %}{% endfor %}"),
    ("range", "{% for i in range(3) %}{{ i }}{% endfor %}"),
    (
        "namespace",
        "{% set ns = namespace(n=0) %}{% for i in items %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}",
    ),
    ("macro", "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(res.name) }}{{ m(1) }}"),
    ("caller", "{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}{{ res.name }}{% endcall %}"),
    ("cycler", "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}"),
    ("dict", "{{ dict(a=1)['a'] }}"),
    ("undefined", "line one\nline two {{ res.nothing }}\n"),
    ("undefined-name", "a\nb\nc {{ nope }}"),
    ("zero", "{{ 1 // zero }}"),
    ("type", "x\n{{ items + 1 }}"),
    ("yaml-mapping", "metadata: {{ res }}\n"),
    ("yaml-text", "name: {{ spaced }}\n"),
    ("sandbox", "{{ res.__class__ }}"),
    ("sandbox-mutate", "{{ items.append(4) }}"),
]
CONTEXTS = [
    {"res": {"name": "db", "id": "x"}, "env": {"id": "dev"}, "items": [1, 2, 3], "zero": 0, "spaced": "a b"},
    {"res": {"name": "other"}, "env": {"id": "prod"}, "items": [], "zero": 0, "spaced": "a: b"},
]


def _outcome(call: Callable[[], object]) -> tuple[str, str, list[int]]:
    """What a render gave: its text, or its error's type, message and the template's lines in its
    traceback (what `templates._template_line` reads)."""
    try:
        return "ok", str(call()), []
    except Exception as exc:  # noqa: BLE001 (every error is compared)
        lines = [
            f.lineno or 0 for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("t::")
        ]
        return type(exc).__name__, str(exc), lines


@pytest.mark.parametrize("kind", ["yaml", "text"])
@pytest.mark.parametrize(("name", "source"), TEMPLATES, ids=[n for n, _ in TEMPLATES])
def test_run_renders_as_jinja_renders(kind: str, name: str, source: str) -> None:
    before = dict(templates._ENVS[kind].globals)
    for n, context in enumerate(CONTEXTS):
        template = templates._template(kind, f"t::{name}::{n}", source)
        ours = _outcome(partial(templates._run, kind, template, context))
        jinja = _outcome(partial(template.render, context))
        assert ours == jinja, (name, n)
    assert templates._GLOBALS[kind] == before == dict(templates._ENVS[kind].globals)  # nothing leaked in


def test_the_sandbox_holds() -> None:
    template = templates._template("text", "t::sandbox-check", "{{ items.append(4) }}")
    items = [1]
    with pytest.raises(SecurityError):
        templates._run("text", template, {"items": items})
    assert items == [1]
