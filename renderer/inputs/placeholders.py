"""The Score placeholder grammar, as score-go implements it.

`${metadata.KEY…}` and `${resources.NAME.OUTPUT…}` are replaced; `$$` becomes `$` and `$${x}` becomes
the literal `${x}`; `\\.` inside a reference is a literal dot in a key; non-string values are
inserted as JSON. A reference may resolve to a SecretRef, which callers turn into a Kubernetes
secret reference instead of a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from renderer.model import SecretRef

# `$` followed by `{...}`, `${...}` after an escaping `$`, or a second `$`: score-go's own pattern
# (framework/substitution.go), so `$${a$$b}` is the text `${a$$b}` there and here.
PLACEHOLDER = re.compile(r"\$((?:\$?\{([^}]*)\})|\$)")

# What one string may expand to: placeholders can repeat a long value many times, and no
# Kubernetes object (etcd stores at most about 1.5 MiB) can hold more.
MAX_EXPANDED_BYTES = 1024 * 1024

Segment = str | SecretRef
Resolver = Callable[[str], object]  # a reference (without `${}`) → its value (plain data) or a SecretRef


class RefError(Exception):
    """A reference that cannot be resolved; the message is shown to the user."""


class SecretRefError(RefError):
    """A reference to a secret output where only plain values may go."""


def split_ref(ref: str) -> list[str]:
    """Split on dots, keeping `\\.` as a literal dot inside a part (as score-go does; a NUL, which
    score-go's marker would misread, never gets here: the YAML reader refuses it)."""
    return [part.replace("\0", ".") for part in ref.replace("\\.", "\0").split(".")]


def find_refs(text: str) -> list[str]:
    """The references a string would resolve, in order, escapes excluded."""
    refs = []
    for match in PLACEHOLDER.finditer(text):
        if not match.group(1).startswith("$"):
            refs.append(match.group(2))
    return refs


def to_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def expand(text: str, resolve: Resolver) -> list[Segment]:
    """Expand into literal text and secret references; adjacent text is merged."""
    out: list[Segment] = []
    pos = 0
    size = [0]  # characters so far

    def emit(piece: Segment) -> None:
        if isinstance(piece, str):
            size[0] += len(piece)
            if size[0] > MAX_EXPANDED_BYTES:
                raise RefError(
                    f"the placeholders expand it to more than {MAX_EXPANDED_BYTES} characters: "
                    "no Kubernetes object can hold it"
                )
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        elif piece != "":
            out.append(piece)

    for match in PLACEHOLDER.finditer(text):
        emit(text[pos : match.start()])
        pos = match.end()
        if match.group(1).startswith("$"):
            emit(match.group(0)[1:])
            continue
        value = resolve(match.group(2))
        emit(value if isinstance(value, SecretRef) else to_text(value))
    emit(text[pos:])
    return out


def substitute(text: str, resolve: Resolver) -> str:
    """Expand where no secret is allowed; a secret raises RefError."""
    parts = expand(text, resolve)
    for part in parts:
        if isinstance(part, SecretRef):
            raise SecretRefError(f"secret output {part.describe()} cannot be used here")
    return "".join(str(p) for p in parts)


def lookup(data: object, keys: Sequence[str], ref: str) -> object:
    """Walk nested outputs the way score-go does, with its error wording."""
    value = data
    for key in keys:
        if not isinstance(value, dict):
            raise RefError(f"invalid ref '{ref}': cannot lookup key '{key}', context is not a map")
        if key not in value:
            known = ", ".join(sorted(value)) or "none"
            raise RefError(f"invalid ref '{ref}': key '{key}' not found (known: {known})")
        value = value[key]
    return value
