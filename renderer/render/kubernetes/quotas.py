"""A namespace's ResourceQuota and LimitRange from the profiles of the app's workloads.

Quantities are added and compared exactly (in thousandths), never as floats: the bytes must not
depend on rounding."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

from renderer.data import Json
from renderer.model import Profile

_UNITS = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}
_BINARY = (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
# (kind, name, the rest of the object), for tenancy to wrap in metadata
Made = tuple[str, str, dict[str, Json]]


def milli(text: Json) -> int:
    """A quantity in thousandths of its unit (the schema admitted only these forms)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)", str(text))
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"not a quantity: {text!r}")
    return int(Decimal(match.group(1)) * _UNITS[match.group(2)] * 1000)


def format_quantity(key: str, value: int) -> Json:
    """Thousandths back to text: CPU in millicores, bytes in the largest binary unit, counts as is."""
    if "cpu" in key:
        return f"{value // 1000}" if value % 1000 == 0 else f"{value}m"
    if "memory" in key or "storage" in key:
        whole = value // 1000
        for suffix, size in _BINARY:
            if whole and whole % size == 0:
                return f"{whole // size}{suffix}"
        return str(whole)
    return str(value // 1000)


def resource_quota(profiles: Sequence[Profile]) -> Made | None:
    """The sum of what each workload's profile adds; none when a workload's profile sets nothing
    (a quota would then leave no room for it)."""
    if not profiles or any(not p.namespace_quota for p in profiles):
        return None
    totals: dict[str, int] = {}
    for profile in profiles:
        for key, value in profile.namespace_quota.items():
            totals[key] = totals.get(key, 0) + milli(value)
    hard = {k: format_quantity(k, v) for k, v in sorted(totals.items())}
    return "ResourceQuota", "app-quota", {"spec": {"hard": hard}}


def limit_range(profiles: Sequence[Profile]) -> Made | None:
    """One container limit range; across the app's profiles each value is the largest given."""
    merged: dict[str, dict[str, Json]] = {}
    for profile in profiles:
        for section, values in sorted(profile.limit_range.items()):
            into = merged.setdefault(section, {})
            for key, value in _items(values):
                if key not in into or milli(value) > milli(into[key]):
                    into[key] = value
    if not merged:
        return None
    names = {"default": "default", "default_request": "defaultRequest", "max": "max"}
    limit: dict[str, Json] = {"type": "Container"}
    for section, values in sorted(merged.items()):
        limit[names[section]] = {k: str(v) for k, v in sorted(values.items())}
    return "LimitRange", "container-limits", {"spec": {"limits": [limit]}}


def _items(values: Json) -> list[tuple[str, Json]]:
    return sorted(values.items()) if isinstance(values, Mapping) else []
