"""Requests → definitions by criteria, most specific wins, with a trace that explains the choice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from renderer.model import Criterion, Environment, Profile, ResourceDefinition

ANY_CLASS = "*"  # a definition's class that matches a request of any class; an exact class outranks it


@dataclass(frozen=True, slots=True)
class Request:
    type: str
    klass: str
    res_id: str | None
    app: str | None
    env: Environment


@dataclass(frozen=True, slots=True)
class Candidate:
    definition: str
    file: str
    outcome: str  # "matched", "outranked" or "rejected"
    reason: str
    specificity: int


@dataclass(frozen=True, slots=True)
class Match:
    definition: ResourceDefinition | None
    candidates: tuple[Candidate, ...]

    def miss_message(self, request: Request) -> str:
        head = (
            f"no resource definition matches {request.type}/{request.klass} "
            f"for env {request.env.id} ({request.env.type})"
        )
        if not self.candidates:
            return f"{head}; no definition has type '{request.type}'"
        tried = "; ".join(f"{c.definition} ({c.reason})" for c in self.candidates)
        return f"{head}; considered: {tried}"


def _mismatch(c: Criterion, req: Request) -> str:
    checks = [
        ("env_type", c.env_type, req.env.type),
        ("env", c.env, req.env.id),
        ("app", c.app, req.app),
        ("res_id", c.res_id, req.res_id),
    ]
    reasons = [f"{k}={want} ≠ {have}" for k, want, have in checks if want is not None and want != have]
    return ", ".join(reasons)


def _best_criterion(d: ResourceDefinition | Profile, req: Request) -> tuple[int, str]:
    """Specificity of the best matching alternative, or -1 and why none matched."""
    best, reasons = -1, []
    for c in d.criteria:
        why = _mismatch(c, req)
        if why:
            reasons.append(why)
        else:
            best = max(best, c.specificity)
    return best, " | ".join(reasons)


def match_resource(req: Request, definitions: Sequence[ResourceDefinition]) -> Match:
    scored: list[tuple[int, ResourceDefinition, str]] = []
    for d in definitions:
        if d.type != req.type:
            continue
        if d.klass not in (req.klass, ANY_CLASS):
            scored.append((-1, d, f"class={d.klass} ≠ {req.klass}"))
            continue
        spec, why = _best_criterion(d, req)
        scored.append((spec, d, why))
    # the class the request names beats `*` whatever the criteria; then the most specific criteria
    scored.sort(key=lambda t: (t[0] < 0, t[0] >= 0 and t[1].klass == ANY_CLASS, -t[0], t[1].id))
    winner = scored[0][1] if scored and scored[0][0] >= 0 else None
    candidates = []
    for spec, d, why in scored:
        if d is winner:
            candidates.append(Candidate(d.id, d.file, "matched", f"specificity {spec}", spec))
        elif spec >= 0:
            reason = f"matches with specificity {spec}, less specific"
            if d.klass == ANY_CLASS and winner is not None and winner.klass != ANY_CLASS:
                reason = f"matches any class; {winner.id} is for class {req.klass}"
            candidates.append(Candidate(d.id, d.file, "outranked", reason, spec))
        else:
            candidates.append(Candidate(d.id, d.file, "rejected", why, spec))
    return Match(winner, tuple(candidates))


class Matcher:
    """`match_resource` over one set of definitions, each answer worked out once for the requests
    it cannot tell apart: a request's app and id are read only where a criterion of a definition of
    its type names one, so a fleet whose every app requests its own database matches it once."""

    def __init__(self, definitions: Sequence[ResourceDefinition]) -> None:
        self.definitions = definitions
        self._reads: dict[str, tuple[bool, bool]] = {}  # type → (reads the app, reads the id)
        for d in definitions:
            app, rid = self._reads.get(d.type, (False, False))
            app = app or any(c.app is not None for c in d.criteria)
            rid = rid or any(c.res_id is not None for c in d.criteria)
            self._reads[d.type] = (app, rid)
        self._known: dict[tuple[str, str, str | None, str | None, str, str], Match] = {}

    def match(self, req: Request) -> Match:
        by_app, by_id = self._reads.get(req.type, (False, False))
        key = (
            req.type,
            req.klass,
            req.res_id if by_id else None,
            req.app if by_app else None,
            req.env.id,
            req.env.type,
        )
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = match_resource(req, self.definitions)
        return found


def match_profile(klass: str, app: str, env: Environment, profiles: Sequence[Profile]) -> Profile | None:
    req = Request("workload", klass, None, app, env)
    best: tuple[int, Profile] | None = None
    for p in profiles:
        if p.klass != klass:
            continue
        spec, _ = _best_criterion(p, req)
        if spec >= 0 and (best is None or spec > best[0]):
            best = (spec, p)
    return best[1] if best else None
