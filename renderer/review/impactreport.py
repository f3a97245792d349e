"""An `Impact` for people and machines: text for a job log, Markdown for the MR note, JSON.

Failure messages come from renders of app inputs (untrusted): in Markdown they are fenced with a
fence longer than any backtick run they hold; every other string is escaped as inline text.
"""

from __future__ import annotations

from collections.abc import Sequence

from renderer.data import Json
from renderer.review import diffmarkdown, treediff
from renderer.review.diffmarkdown import fence_for, inline
from renderer.review.impact import Impact, Pair
from renderer.review.sides import TOGETHER, Failure

NO_IMPACT = "no impact"


def headline(impact: Impact) -> str:
    if impact.none:
        return f"{NO_IMPACT}: {impact.head} renders every stored app exactly as {impact.base} does"
    parts = (
        [f"{len(impact.pairs)} app × environment pair(s) and shared scope(s) change"] if impact.pairs else []
    )
    if impact.others and not impact.pairs:
        parts.append(f"{', '.join(impact.others)} change")
    if impact.new_failures:
        parts.append(f"{len(impact.new_failures)} app(s) newly failing")
    if impact.fixed:
        parts.append(f"{len(impact.fixed)} app(s) rendering again")
    return f"impact of {impact.head} against {impact.base}: " + ", ".join(parts)


def _reason(pair: Pair, impact: Impact) -> str:
    if pair.why:
        text = ", ".join(pair.why)
    elif pair.considered:
        text = ", ".join(pair.considered) + " (considered when matching)"
    elif impact.outside:
        text = "none of its platform files; changed outside the platform configuration: " + ", ".join(
            impact.outside
        )
    else:
        text = "none of the platform files it records"
    if pair.modules:
        text += f"; its Terraform uses changed module(s) {', '.join(pair.modules)}"
    return text


def _what(pair: Pair) -> str:
    if not pair.changes:
        return "no file changes (Terraform re-plans)"
    counts = {s: sum(1 for c in pair.changes if c.status == s) for s in ("added", "changed", "removed")}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


def _failure_name(f: Failure) -> str:
    return "the apps together (each renders alone)" if f.app == TOGETHER else f.app


# ---- text --------------------------------------------------------------------------------------


def text(impact: Impact) -> str:
    lines = [headline(impact)]
    if impact.changed_files:
        lines.append("changed files: " + ", ".join(impact.changed_files))
    for pair in impact.pairs:
        lines.append(f"{pair.scope}: {_what(pair)}; why: {_reason(pair, impact)}")
    for scope in impact.others:
        lines.append(f"{scope}: changes")
    lines += _failure_lines(impact)
    if not impact.diff.empty:
        lines += ["", treediff.text(impact.diff).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _failure_lines(impact: Impact) -> list[str]:
    out = []
    for label, items in (("NEWLY FAILS", impact.new_failures), ("still fails", impact.still_failing)):
        for f in items:
            out.append(f"{label}: {_failure_name(f)} ({f.category}, exit {f.code})")
            out += [f"  {line}" for line in f.message.splitlines()]
    out += [f"renders again: {app}" for app in impact.fixed]
    return out


# ---- JSON --------------------------------------------------------------------------------------


def as_json(impact: Impact) -> dict[str, Json]:
    return {
        "impact": not impact.none,
        "base": impact.base,
        "head": impact.head,
        "changed_files": list(impact.changed_files),
        "outside_platform_config": list(impact.outside),
        "pairs": [
            {
                "scope": p.scope,
                "objects": [c.path for c in p.changes],
                "why": list(p.why),
                "considered": list(p.considered),
                "modules": list(p.modules),
            }
            for p in impact.pairs
        ],
        "other_scopes": list(impact.others),
        "new_failures": _failures(impact.new_failures),
        "still_failing": _failures(impact.still_failing),
        "fixed": list(impact.fixed),
        "pictures": dict(sorted(impact.pictures.items())),  # env → Markdown with a ```mermaid block
        "diff": treediff.as_json(impact.diff),
    }


def _failures(items: Sequence[Failure]) -> list[Json]:
    return [{"app": f.app, "code": f.code, "category": f.category, "message": f.message} for f in items]


# ---- Markdown ----------------------------------------------------------------------------------


def markdown(
    impact: Impact, *, limit: int | None = None, artifact: str | None = None, artifact_url: str | None = None
) -> str:
    """The MR note: what changes and why, what newly fails, then the per-object diffs (sized)."""
    header = _md_header(impact)
    if impact.diff.empty:
        return header + "\n"
    return diffmarkdown.markdown(
        impact.diff, limit=limit, artifact=artifact, header=header, artifact_url=artifact_url
    )


def _md_header(impact: Impact) -> str:
    parts = [f"### Platform change impact\n\n{inline(headline(impact))}.\n"]
    if impact.pairs:
        parts.append("\n| scope | objects | why (changed files it depends on) |\n|---|---|---|\n")
        parts += [
            f"| {inline(p.scope)} | {inline(_what(p))} | {inline(_reason(p, impact))} |\n"
            for p in impact.pairs
        ]
    for env, picture in sorted(impact.pictures.items()):
        parts.append(
            f"\n<details><summary>The affected part of the resource graph in {inline(env)}</summary>\n\n"
            f"{picture}\n</details>\n"
        )
    for label, items in (("Newly fails", impact.new_failures), ("Still fails", impact.still_failing)):
        for f in items:
            fence = fence_for(f.message)
            parts.append(
                f"\n**{label}**: {inline(_failure_name(f))} ({inline(f.category)}, exit {f.code})\n\n"
                f"{fence}text\n{f.message}\n{fence}\n"
            )
    if impact.fixed:
        parts.append("\nRenders again: " + ", ".join(inline(a) for a in impact.fixed) + "\n")
    return "".join(parts)
