"""Developer strings made safe as text in a Mermaid or DOT label: data, never syntax.

Names in the resource graph come from app repos (workload and resource names, ids), so a label
must not end its quotes, open a shape, start a `%%{init}%%` directive or a comment, inject HTML
or a Markdown string, close the Markdown fence around the diagram, or reorder the text with
bidirectional controls. Mermaid decodes `#<decimal>;` to a character after parsing: everything
but letters, digits and a few harmless marks is written that way, so the parser only ever sees
letters, digits, `.`, `/`, `_`, `-`, `#`, spaces and our own entities.
"""

from __future__ import annotations

import unicodedata

# Characters that mean nothing to Mermaid's flowchart grammar inside a quoted label. `#` stays
# (resource uids carry it): Mermaid's entity pattern is `#\w+;`, and `;` is always encoded, so a
# raw `#` never starts an entity. `:` is encoded, because with `style` or `classDef` earlier on
# the line and a `;` later Mermaid drops that `;`.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./_-# ")
# Invisible or layout-changing characters (controls, bidi marks, line and paragraph separators,
# combining marks, unassigned and private-use code points) are shown as one visible mark: an
# entity would still be decoded into the character that does the harm.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Mn", "Mc", "Me"})
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
MAX_LABEL = 200  # characters of one name shown; a longer one ends with an ellipsis
# Mermaid wraps label lines at spaces only, and a diagram wider than the note is scaled down: a
# name longer than this is broken into lines (after a `.`, `#`, `/`, `-` or `_` where there is
# one), with `<br>`, kept apart from the `<br/>` that separates a label's fields.
WRAP = 32
_BREAK_AFTER = frozenset(".#/-_ ")


def mermaid_text(text: str) -> str:
    """`text` as Mermaid label text (inside `["…"]` or `|…|`): every character data."""
    return "<br>".join("".join(_mermaid_char(c) for c in line) for line in _wrapped(_shortened(text)))


def _wrapped(text: str) -> list[str]:
    lines = []
    while len(text) > WRAP:
        cut = max((i + 1 for i in range(WRAP // 2, WRAP) if text[i] in _BREAK_AFTER), default=WRAP)
        lines.append(text[:cut])
        text = text[cut:]
    return [*lines, text]


def _mermaid_char(char: str) -> str:
    if char in _PLAIN:
        return char
    category = unicodedata.category(char)
    if category in _HIDDEN:
        return REPLACEMENT
    if category[0] in "LN" and char.isprintable():
        return char
    return f"#{ord(char)};"


def dot_text(text: str) -> str:
    """`text` inside a DOT double-quoted string: quotes and backslashes escaped, nothing hidden."""
    out = []
    for char in _shortened(text):
        if unicodedata.category(char) in _HIDDEN:
            out.append(REPLACEMENT)
        elif char in '"\\':
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def markdown_text(text: str) -> str:
    """`text` in a Markdown paragraph: no emphasis, links, HTML or code spans start inside it."""
    out = []
    for char in _shortened(text):
        if unicodedata.category(char) in _HIDDEN:
            out.append(REPLACEMENT)
        elif char.isalnum() or char in " ./-,:":
            out.append(char)
        else:
            out.append(f"&#{ord(char)};")
    return "".join(out)


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def js_length(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units): how GitLab and mermaid.js measure."""
    return len(text.encode("utf-16-le")) // 2
