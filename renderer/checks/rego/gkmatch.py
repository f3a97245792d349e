"""Which objects a Gatekeeper constraint's `spec.match` selects, as Gatekeeper's pkg/mutation/match decides:
kinds (with API groups), scope, namespaces and excludedNamespaces (with `*` globs), labelSelector,
namespaceSelector, name, source (rendered objects are originals; what an ExpansionTemplate implies is
generated). Every criterion given must hold."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from renderer.data import Json, json_object

Match = Mapping[str, Json]
Obj = Mapping[str, Json]


class MatchError(Exception):
    """The match cannot be decided: a namespaceSelector on an object whose Namespace is not rendered."""


def group_version(obj: Obj) -> tuple[str, str]:
    """`apps/v1` → (apps, v1); `v1` → ("", v1)."""
    api = str(obj.get("apiVersion") or "")
    group, _, version = api.rpartition("/")
    return group, version


def is_namespace(obj: Obj) -> bool:
    return obj.get("kind") == "Namespace" and group_version(obj)[0] == ""


def _meta(obj: Obj, key: str) -> str:
    return str(json_object(obj.get("metadata")).get(key) or "")


def _labels(obj: Obj) -> Mapping[str, Json]:
    return json_object(json_object(obj.get("metadata")).get("labels"))


def _strings(value: Json) -> list[str]:
    return [str(v) for v in value] if isinstance(value, Sequence) and not isinstance(value, str) else []


def wildcard(pattern: str, candidate: str) -> bool:
    """Gatekeeper's glob: `*` at the front, the end, or both; otherwise equality."""
    if len(pattern) > 1 and pattern.startswith("*") and pattern.endswith("*"):
        return pattern[1:-1] in candidate
    if pattern.startswith("*"):
        return candidate.endswith(pattern[1:])
    if pattern.endswith("*"):
        return candidate.startswith(pattern[:-1])
    return pattern == candidate


def selects(selector: Mapping[str, Json], labels: Mapping[str, Json]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions, ANDed; empty selects all)."""
    for key, value in json_object(selector.get("matchLabels")).items():
        if key not in labels or str(labels[key]) != str(value):
            return False
    expressions = selector.get("matchExpressions")
    for raw in expressions if isinstance(expressions, Sequence) else []:
        expr = json_object(raw)
        key, operator, values = str(expr.get("key")), expr.get("operator"), _strings(expr.get("values"))
        present = key in labels
        held = str(labels[key]) if present else None
        ok = {
            "In": present and held in values,
            "NotIn": not present or held not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(str(operator), False)
        if not ok:
            return False
    return True


def _kinds(match: Match, obj: Obj, ns: Obj | None) -> bool:
    kinds = match.get("kinds")
    if not isinstance(kinds, Sequence) or not kinds:
        return True
    group, kind = group_version(obj)[0], str(obj.get("kind"))
    for raw in kinds:
        entry = json_object(raw)
        names, groups = _strings(entry.get("kinds")), _strings(entry.get("apiGroups"))
        if names and "*" not in names and kind not in names:
            continue
        if not groups or "*" in groups or group in groups:
            return True
    return False


def _scope(match: Match, obj: Obj, ns: Obj | None) -> bool:
    namespaced = bool(_meta(obj, "namespace")) or ns is not None
    if match.get("scope") == "Cluster":
        return is_namespace(obj) or not namespaced
    if match.get("scope") == "Namespaced":
        return not is_namespace(obj) and namespaced
    return True


def _namespace_of(obj: Obj, ns: Obj | None) -> str | None:
    """The namespace the namespace criteria judge: a Namespace's own name; None for cluster objects."""
    if is_namespace(obj):
        return _meta(obj, "name")
    if ns is not None:
        return _meta(ns, "name")
    return _meta(obj, "namespace") or None


def _namespaces(match: Match, obj: Obj, ns: Obj | None) -> bool:
    patterns, name = _strings(match.get("namespaces")), _namespace_of(obj, ns)
    if not patterns or name is None:
        return True
    return any(wildcard(p, name) for p in patterns)


def _excluded(match: Match, obj: Obj, ns: Obj | None) -> bool:
    patterns, name = _strings(match.get("excludedNamespaces")), _namespace_of(obj, ns)
    if not patterns or name is None:
        return True
    return not any(wildcard(p, name) for p in patterns)


def _label_selector(match: Match, obj: Obj, ns: Obj | None) -> bool:
    selector = match.get("labelSelector")
    return selector is None or selects(json_object(selector), _labels(obj))


def _namespace_selector(match: Match, obj: Obj, ns: Obj | None) -> bool:
    selector = match.get("namespaceSelector")
    if selector is None:
        return True
    if is_namespace(obj):
        return selects(json_object(selector), _labels(obj))
    if not _meta(obj, "namespace") and ns is None:
        return True  # a cluster-scoped object: the selector does not apply
    if ns is None:
        name = _meta(obj, "namespace")
        raise MatchError(f"namespaceSelector needs the Namespace '{name}', which this render does not hold")
    return selects(json_object(selector), _labels(ns))


def _name(match: Match, obj: Obj, ns: Obj | None) -> bool:
    pattern = match.get("name")
    return not pattern or wildcard(str(pattern), _meta(obj, "name"))


CRITERIA: tuple[Callable[[Match, Obj, Obj | None], bool], ...] = (
    _kinds,
    _scope,
    _namespaces,
    _excluded,
    _label_selector,
    _namespace_selector,
    _name,
)


def matches(match: Match, obj: Obj, ns: Obj | None, generated: bool = False) -> bool:
    """Whether the constraint applies to `obj` (`ns`: its Namespace object, when rendered;
    `generated`: an object an ExpansionTemplate implied, not one the render wrote)."""
    source = match.get("source") or "All"
    if source != "All" and (source == "Generated") != generated:
        return False
    return all(criterion(match, obj, ns) for criterion in CRITERIA)
