"""A small evaluator of identity-policy Allow/Deny statements: Action and Resource with IAM's
wildcards (`*` any run of characters, `/` included; `?` exactly one), actions case-insensitive,
an explicit Deny wins. What it does not model (NotAction, NotResource, Condition) it refuses.

moto's `IAMPolicy` was tried first: its matcher turns the pattern into a regular expression with
only `*` translated, so `.` matches any character and `?` raises; it cannot judge these policies."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from renderer.data import Json


def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _values(value: Json) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    raise ValueError(f"not a string or list: {value!r}")


def _matches(statement: Mapping[str, Json], action: str, resource: str) -> bool:
    unsupported = {"NotAction", "NotResource", "Condition", "NotPrincipal"} & set(statement)
    if unsupported:
        raise ValueError(f"the evaluator does not model {sorted(unsupported)}")
    acts = _values(statement["Action"])
    res = _values(statement["Resource"])
    return any(_pattern(a, True).fullmatch(action) for a in acts) and any(
        _pattern(r, False).fullmatch(resource) for r in res
    )


def allowed(policy: Mapping[str, Json], action: str, resource: str) -> bool:
    """True when some Allow statement matches and no Deny statement does."""
    statements = policy["Statement"]
    items = [statements] if isinstance(statements, Mapping) else list(_statements(statements))
    hits = [str(s["Effect"]) for s in items if _matches(s, action, resource)]
    return "Allow" in hits and "Deny" not in hits


def _statements(value: Json) -> list[Mapping[str, Json]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError("Statement is neither an object nor a list")
    return [s for s in value if isinstance(s, Mapping)]
