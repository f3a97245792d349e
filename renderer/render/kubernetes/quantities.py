"""Kubernetes quantities and the profile's default requests and limits."""

from __future__ import annotations

import re
from collections.abc import Mapping

from renderer.data import Json
from renderer.model import DefaultResources, ScoreContainerResources

_UNITS = {
    "": 1.0,
    "m": 0.001,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def quantity(text: Json) -> float:
    """A Kubernetes quantity as a number, for comparisons only."""
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    if not match or match.group(2) not in _UNITS:
        return float("inf")
    return float(match.group(1)) * _UNITS[match.group(2)]


def compute_resources(
    given: ScoreContainerResources, defaults: DefaultResources
) -> dict[str, Mapping[str, Json]]:
    """Profile defaults fill only what the developer left open, never above a given limit."""
    requests: dict[str, Json] = {**(given.get("requests") or {})}
    limits: dict[str, Json] = {**(given.get("limits") or {})}
    for key, value in (defaults.get("requests") or {}).items():
        if key not in requests and key not in limits:
            requests[key] = value
    for key, value in (defaults.get("limits") or {}).items():
        if key not in limits and (key not in requests or quantity(requests[key]) <= quantity(value)):
            limits[key] = value
    out: dict[str, Mapping[str, Json]] = {}
    if requests:
        out["requests"] = dict(sorted(requests.items()))
    if limits:
        out["limits"] = dict(sorted(limits.items()))
    return out
