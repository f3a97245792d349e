"""A `TreeDiff` as GitLab-flavoured Markdown for one MR note, sized under the note's limit.

The summary table comes first, then one collapsible `<details>` section per scope with a fenced
unified diff per object. Past the limit each object's diff gets a fair share of the room (small
diffs whole, large ones cut at a line), objects that do not fit at all are counted, and the note
points at the full diff saved as a job artifact. Every fence is closed and longer than any run of
backticks in what it holds, so no content can end it early. Strings from the trees (paths, kinds,
names, policy messages) are data: every character Markdown or HTML could read is an entity.

A pure function: the same diff and arguments give the same text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from renderer.review.treediff import ObjectChange, ScopeSummary, TreeDiff

NOTE_LIMIT = 1_000_000  # characters GitLab takes in one note
DEFAULT_LIMIT = 900_000  # with a margin for the marker and what a caller adds around it
MIN_SHOWN = 300  # characters of diff an object gets before another is left out entirely
MAX_WARNINGS = 50
MAX_WARNING_CHARS = 500
_SPECIAL = set(
    "\\`*_{}[]()#!|~<>&@$%^"
)  # Markdown, HTML and GitLab references (@user, #1, !1, ~label, $1, %m, &epic)


@dataclass(frozen=True, slots=True)
class _Block:
    change: ObjectChange
    fence: str
    overhead: int  # characters of the block besides the diff, truncation note included
    opening: str = ""  # the first block of its scope opens the scope's section (and closes it later)

    @property
    def cost(self) -> int:
        """Characters besides the diff, the scope's section around it included when it opens one."""
        return self.overhead + (len(self.opening) + len(_CLOSE) if self.opening else 0)


def markdown(
    diff: TreeDiff,
    *,
    limit: int | None = None,
    artifact: str | None = None,
    header: str = "",
    artifact_url: str | None = None,
) -> str:
    """The note's text, at most `limit` characters (default `DEFAULT_LIMIT`). `artifact`: the path
    of the full diff saved as a job artifact (`artifact_url`: where to download it), named when
    the note had to be shortened; `header`: Markdown put first, as given (trusted: the caller's)."""
    cap = DEFAULT_LIMIT if limit is None else limit
    prefix = _prefix(diff, header)
    blocks = _blocks(diff.changes)
    whole = _assemble(prefix, blocks, len(blocks), None, "")
    if len(whole) <= cap:
        return whole
    trailer = _trailer(artifact, artifact_url)
    shown = _how_many(prefix, blocks, trailer, cap)
    room = cap - _overhead(prefix, blocks, shown, trailer)
    share = _fair_share([len(b.change.diff) for b in blocks[:shown]], room)
    text = _assemble(prefix, blocks, shown, share, trailer)
    if len(text) > cap:  # the prefix alone is over the limit: say so within it, never a broken note
        return _cut(prefix, cap - len(trailer) - 2) + "\n\n" + trailer
    return text


def _prefix(diff: TreeDiff, header: str) -> str:
    parts = [header.rstrip("\n") + "\n\n"] if header else []
    if diff.empty:
        parts.append("**No changes**: the rendered output is what the environment repo holds.\n\n")
    else:
        summary = diff.summary()
        n = len(diff.changes)
        parts.append(f"**{_count(n, 'object')} changed** in {_count(len(summary), 'scope')}:\n\n")
        parts.append("| scope | added | changed | removed | Terraform |\n|---|---:|---:|---:|---|\n")
        parts += [_row(s) for s in summary]
        parts.append("\n")
    parts.append(_warnings(diff.warnings))
    return "".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _row(s: ScopeSummary) -> str:
    terraform = ", ".join(inline(p) for p in (*s.projects, *s.modules)) or "—"
    return f"| {inline(s.scope)} | {s.added} | {s.changed} | {s.removed} | {terraform} |\n"


def _warnings(warnings: Sequence[str]) -> str:
    if not warnings:
        return "Policy warnings: none.\n\n"
    lines = [f"Policy warnings ({len(warnings)}):\n\n"]
    for w in warnings[:MAX_WARNINGS]:
        shown = w if len(w) <= MAX_WARNING_CHARS else w[:MAX_WARNING_CHARS] + "…"
        lines.append(f"- {inline(shown)}\n")
    if len(warnings) > MAX_WARNINGS:
        lines.append(f"- … and {len(warnings) - MAX_WARNINGS} more (in the job log)\n")
    return "".join(lines) + "\n"


def inline(text: str) -> str:
    """Text as it reads, whatever it holds: Markdown and HTML characters become entities, newlines spaces."""
    return "".join(f"&#{ord(ch)};" if ch in _SPECIAL else " " if ch in "\r\n" else ch for ch in text)


def fence_for(content: str) -> str:
    """A code fence longer than any run of backticks in `content`: nothing in it can close it."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    return "`" * max(3, longest + 1)


def _blocks(changes: Sequence[ObjectChange]) -> list[_Block]:
    """One block per change, grouped by scope (in the order scopes first appear)."""
    groups: dict[str, list[ObjectChange]] = {}
    for c in changes:
        groups.setdefault(c.scope, []).append(c)
    blocks = []
    for scope, group in groups.items():
        opening = _open_scope(scope, group)
        blocks += [_block(c, opening if i == 0 else "") for i, c in enumerate(group)]
    return blocks


def _block(change: ObjectChange, opening: str) -> _Block:
    fence = fence_for(change.diff)
    empty = _render_block(change, fence, "", len(change.diff.splitlines()))
    return _Block(change, fence, len(empty), opening)


def _heading(change: ObjectChange) -> str:
    what = inline(change.kind) + (f" {inline(change.name)}" if change.name else "")
    to = f", to <code>{inline(change.target)}</code>" if change.target not in ("", "main") else ""
    return f"**{change.status}** <code>{inline(change.path)}</code> ({what}{to})\n\n"


def _render_block(change: ObjectChange, fence: str, body: str, left_out: int) -> str:
    note = f"*… {left_out} more lines not shown here (see the full diff)*\n\n" if left_out else ""
    return f"{_heading(change)}{fence}diff\n{body}{fence}\n\n{note}"


def _open_scope(diff_scope: str, changes: Sequence[ObjectChange]) -> str:
    counts = {s: sum(1 for c in changes if c.status == s) for s in ("added", "changed", "removed")}
    said = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return f"<details><summary>{inline(diff_scope)}: {said}</summary>\n\n"


_CLOSE = "</details>\n\n"


def _fixed(prefix: str, trailer: str, left: int) -> int:
    return len(prefix) + len(trailer) + len(_omitted(left))


def _how_many(prefix: str, blocks: Sequence[_Block], trailer: str, cap: int) -> int:
    """The most objects that fit, each with at least MIN_SHOWN characters of its diff (one pass)."""
    best, running = 0, 0
    for shown, b in enumerate(blocks, start=1):
        running += b.cost + min(MIN_SHOWN, len(b.change.diff))
        if _fixed(prefix, trailer, len(blocks) - shown) + running <= cap:
            best = shown
    return best


def _overhead(prefix: str, blocks: Sequence[_Block], shown: int, trailer: str) -> int:
    """Characters of everything but the diffs when the first `shown` blocks are shown (an upper bound)."""
    return _fixed(prefix, trailer, len(blocks) - shown) + sum(b.cost for b in blocks[:shown])


def _fair_share(sizes: Sequence[int], room: int) -> int:
    """The largest per-object cap such that every object's diff, cut to it, fits in `room` together."""
    remaining, left = max(room, 0), len(sizes)
    for size in sorted(sizes):
        share = remaining // left if left else remaining
        if size > share:
            return share
        remaining -= size
        left -= 1
    return max(sizes, default=0)


def _truncated(diff: str, share: int) -> tuple[str, int]:
    """At most `share` characters of `diff`, cut at a line end when one falls in the second half of
    the share, else inside the long line (whole characters: a str is sliced by code point)."""
    if len(diff) <= share:
        return diff, 0
    end = diff.rfind("\n", 0, share)
    if end >= share // 2:
        head = diff[: end + 1]
    elif share > 1:
        head = diff[: share - 1] + "\n"
    else:
        head = ""
    total = len(diff.splitlines())
    return head, max(total - len(head.splitlines()), 1)


def _assemble(prefix: str, blocks: Sequence[_Block], shown: int, share: int | None, trailer: str) -> str:
    parts = [prefix]
    for i, b in enumerate(blocks[:shown]):
        if b.opening:
            parts.append(b.opening)
        body, left_out = _truncated(b.change.diff, share) if share is not None else (b.change.diff, 0)
        parts.append(_render_block(b.change, b.fence, body, left_out))
        if i + 1 == shown or blocks[i + 1].opening:
            parts.append(_CLOSE)
    parts.append(_omitted(len(blocks) - shown))
    parts.append(trailer)
    return "".join(parts)


def _omitted(left: int) -> str:
    if not left:
        return ""
    return f"*{left} more object{'s' if left != 1 else ''} not shown here (see the full diff).*\n\n"


def _trailer(artifact: str | None, url: str | None) -> str:
    if artifact and url:
        where = (
            f'the job artifact <a href="{html.escape(url, quote=True)}"><code>{inline(artifact)}</code></a>'
        )
    elif artifact:
        where = f"the job artifact <code>{inline(artifact)}</code>"
    else:
        where = "the output of <code>renderer diff</code> (not attached to this pipeline)"
    return f"> The diff is too long for one note and was shortened. The full diff is {where}.\n"


def _cut(text: str, room: int) -> str:
    """`text` cut to `room` characters at a line end (whole characters; no table row or fence is open)."""
    head = text[: max(room, 0)]
    end = head.rfind("\n")
    return head[: end + 1] if end >= 0 else ""
