"""Fuzz target: the placeholder grammar expands any string, raising only RefError, and its escapes
and references round-trip. Run through fuzz/run.sh, or: python fuzz/placeholder_target.py [flags]"""

from __future__ import annotations

import re
import sys

import atheris

with atheris.instrument_imports(include=["renderer"]):
    from renderer.inputs import placeholders
    from renderer.inputs.score import volume_resource
    from renderer.model import SecretRef

CONTEXT = {
    "metadata": {"name": "web", "annotations": {"a.b/c": "dotted"}},
    "resources": {"db": {"host": "pg", "port": 5432, "cfg": {"x": [1]}, "pw": SecretRef("pw", "p")}},
}


def resolve(ref: str) -> object:
    """As the renderer's resolver (resolve/nodes.py): a resource is reached through an output only."""
    parts = placeholders.split_ref(ref)
    if parts[0] == "metadata":
        return placeholders.lookup(CONTEXT["metadata"], parts[1:], ref)
    if parts[0] == "resources" and len(parts) > 2:
        return placeholders.lookup(CONTEXT["resources"], parts[1:], ref)
    raise placeholders.RefError(f"invalid ref '{ref}': unknown reference root")


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    refs = placeholders.find_refs(text)
    seen: list[str] = []
    parts = placeholders.expand(text, lambda ref: seen.append(ref) or f"<{ref}>")
    assert seen == refs, (seen, refs)
    for ref in refs:  # `\.` is the only way to write a dot that does not split
        # (a NUL is score-go's own marker in its split; the YAML reader refuses NUL in every input)
        assert "\\" in ref or "\0" in ref or placeholders.split_ref(ref) == ref.split("."), ref
    assert all(p != "" for p in parts) and len(parts) <= 1, parts  # only text: merged into one piece
    # Escaping every `$` makes any text a literal: no references, and it substitutes to itself;
    # except that `$${…}` keeps its braces' text as written, as score-go's pattern does.
    escaped = text.replace("$", "$$")
    assert placeholders.find_refs(escaped) == [], escaped
    if not re.search(r"\$\{[^}]*\$", text):
        assert placeholders.substitute(escaped, lambda ref: f"<{ref}>") == text, escaped
    name = volume_resource(text)
    assert name is None or text.startswith("${resources."), (text, name)
    try:
        result = placeholders.substitute(text, resolve)
    except placeholders.RefError:
        return  # the documented error: a reference that does not resolve, or a secret
    assert isinstance(result, str) and (refs or result == placeholders.substitute(text, str)), result


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
