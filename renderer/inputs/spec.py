"""The Score specification alone, as score-go judges it: `renderer validate --spec`.

What counts as "the spec" is what score-go does to a file before any tool (score-compose,
score-k8s) looks at it: `schema.ApplyCommonUpgradeTransforms`, `schema.Validate` with the
score-v1b1 schema, and the checks of `loader.Validate` (placeholders in the strings it scans,
`before`). Nothing stricter: no platform, no overrides, no file sources read, none of the
renderer's own rules (mount targets, duplicate ports, `${metadata.…}` lookups); those are
`renderer validate` without `--spec`. Needs no project root.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence

from renderer.data import Doc, Json, PathKey, walk
from renderer.errors import InputError, Problem, of_kind
from renderer.inputs import schema
from renderer.inputs.placeholders import PLACEHOLDER  # score-go's grammar: `${…}`, `$$`, `$${…}`
from renderer.inputs.yamlio import DEFAULT_LIMITS, load_bytes
from renderer.model import Limits

SCHEMA = "score-v1b1"
SCORE_GLOB = "score*.yaml"  # the files an app directory holds its workloads in

# What loader.Validate accepts inside `${}`: two or more ASCII word parts joined by dots.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+", re.ASCII)
_ROOTS = ("metadata", "resources")


def score_files(paths: Sequence[str]) -> tuple[list[str], list[Problem]]:
    """The Score files the paths name: a file as given, a directory's own `score*.yaml` files.

    A directory without one is a problem, so a typo cannot pass as "nothing to check"."""
    files: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        found = sorted(n for n in os.listdir(path) if fnmatch.fnmatchcase(n, SCORE_GLOB))
        if not found:
            problems.append(Problem(path, 0, "", f"no {SCORE_GLOB} files in this directory"))
        files.extend(os.path.join(path, n) for n in found)
    return sorted(set(files)), problems


def check_paths(paths: Sequence[str], limits: Limits = DEFAULT_LIMITS) -> int:
    """Check every Score file the paths name; the number checked, or InputError with every problem."""
    files, problems = score_files(paths)
    for file in files:
        problems.extend(check_file(file, limits))
    if problems:
        raise InputError(of_kind(problems, "spec"))
    return len(files)


def check_file(path: str, limits: Limits = DEFAULT_LIMITS) -> list[Problem]:
    """Every spec problem of one Score file, read with the reader's limits."""
    data = _read(path, limits)
    if isinstance(data, Problem):
        return [data]
    try:
        docs = load_bytes(data, path, limits)
    except InputError as exc:
        return exc.problems()
    if not docs:
        return [Problem(path, 0, "", "holds no YAML document", "a Score file is one YAML mapping")]
    # score-go decodes the first document only; any after it are not part of the workload
    return check_document(docs[0])


def _read(path: str, limits: Limits) -> bytes | Problem:
    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return Problem(path, 0, "", "a Score file must be a regular file")
            data = fh.read(limits.file_bytes + 1)
    except OSError as exc:
        return Problem(path, 0, "", f"cannot be read: {exc.strerror or exc}")
    if len(data) > limits.file_bytes:
        return Problem(path, 0, "", *limits.over("file_bytes", "the file"), kind="platform")
    return data


def check_document(doc: Doc) -> list[Problem]:
    """Upgrade as score-go does, then its schema; only a schema-valid workload is checked further."""
    if not isinstance(doc.data, dict):
        return [doc.problem([], "the document must be a mapping")]
    data, problems = upgrade(doc.data)
    if problems:
        return [doc.problem(path, message) for path, message in problems]
    found = schema.check(SCHEMA, data, doc)
    if found or not isinstance(data, Mapping):
        return found
    return list(_placeholders(data, doc)) + list(_before(data, doc))


def upgrade(data: Mapping[str, Json]) -> tuple[Json, list[tuple[PathKey, str]]]:
    """score-go's upgrade of the deprecated list forms, and only that.

    A list of files or volumes becomes a map by `target` (the last of a repeated target wins; an
    item that is not a mapping is dropped); a list `content` becomes its lines joined; `read_only`
    becomes `readOnly` in the list form only. An item whose `target` is missing or not a string
    is the one thing that fails, as score-go's upgrade fails on it."""
    containers = data.get("containers")
    if not isinstance(containers, Mapping):
        return dict(data), []
    problems: list[tuple[PathKey, str]] = []
    upgraded: dict[str, Json] = {}
    for cname, container in containers.items():
        if isinstance(container, Mapping):
            container = dict(container)
            for section in ("files", "volumes"):
                items = container.get(section)
                if isinstance(items, list):
                    container[section] = _to_map(items, ("containers", cname, section), problems)
        upgraded[cname] = container
    return {**data, "containers": upgraded}, problems


def _to_map(items: Sequence[Json], path: PathKey, problems: list[tuple[PathKey, str]]) -> Json:
    out: dict[str, Json] = {}
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        entry = {k: v for k, v in item.items() if k != "target"}
        if isinstance(entry.get("content"), list):
            entry["content"] = "\n".join(_text(line) for line in _items(entry["content"]))
        if path[-1] == "volumes" and isinstance(entry.get("read_only"), bool):
            entry["readOnly"] = entry.pop("read_only")
        target = item.get("target")
        if not isinstance(target, str):
            problems.append(((*path, i), "a list item needs 'target', a string (the path in the container)"))
            continue
        out[target] = entry
    return out


def _items(value: Json) -> Sequence[Json]:
    return value if isinstance(value, list) else []


def _text(value: Json) -> str:
    """A line of a list `content` as score-go prints it; only its being a string matters here."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<nil>" if value is None else str(value)


def _scanned(data: Mapping[str, Json]) -> Iterator[tuple[PathKey, str]]:
    """The strings loader.Validate looks for placeholders in: file `content` (unless `noExpand`),
    `variables`, volume `source`s and every string value in resource `params`. Not `command`,
    `args` or `image`."""
    for cname, c in sorted(_mapping(data.get("containers")).items()):
        c = _mapping(c)
        base: PathKey = ("containers", cname)
        for target, f in sorted(_mapping(c.get("files")).items()):
            f = _mapping(f)
            if isinstance(f.get("content"), str) and f.get("noExpand") is not True:
                yield (*base, "files", target, "content"), str(f["content"])
        for key, value in sorted(_mapping(c.get("variables")).items()):
            if isinstance(value, str):
                yield (*base, "variables", key), value
        for target, v in sorted(_mapping(c.get("volumes")).items()):
            source = _mapping(v).get("source")
            if isinstance(source, str):
                yield (*base, "volumes", target, "source"), source
    for rname, r in sorted(_mapping(data.get("resources")).items()):
        for path, leaf in walk(_mapping(r).get("params") or {}, ("resources", rname, "params")):
            if isinstance(leaf, str):
                yield path, leaf


def _mapping(value: Json) -> Mapping[str, Json]:
    return value if isinstance(value, Mapping) else {}


def _placeholders(data: Mapping[str, Json], doc: Doc) -> Iterator[Problem]:
    resources = _mapping(data.get("resources"))
    for path, text in _scanned(data):
        for match in PLACEHOLDER.finditer(text):
            inner = match.group(2)
            if inner is None or match.group(1).startswith("$"):
                continue  # `$$` or `$${…}`: an escaped dollar
            message = _placeholder_problem(inner, resources)
            if message:
                yield doc.problem(path, message, "write $$ for a literal $")


def _placeholder_problem(inner: str, resources: Mapping[str, Json]) -> str:
    if not _WELL_FORMED.fullmatch(inner):
        return (
            f"placeholder ${{{inner}}} is malformed: it needs two or more parts joined by '.', "
            "each of letters, digits, '_' or '-'"
        )
    parts = inner.split(".")
    if parts[0] not in _ROOTS:
        return f"placeholder ${{{inner}}} starts with '{parts[0]}': only metadata and resources are known"
    if parts[0] == "resources" and parts[1] not in resources:
        known = ", ".join(sorted(resources)) or "none declared"
        return f"placeholder ${{{inner}}} names no resource of this workload: '{parts[1]}' (known: {known})"
    return ""


def _before(data: Mapping[str, Json], doc: Doc) -> Iterator[Problem]:
    containers = _mapping(data.get("containers"))
    waits: dict[str, set[str]] = {}
    for cname, c in sorted(containers.items()):
        waits[cname] = set()
        for other in sorted(_mapping(_mapping(c).get("before"))):
            path = ("containers", cname, "before", other)
            if other == cname:
                yield doc.problem(path, f"container '{cname}' lists itself in 'before'")
            elif other not in containers:
                known = ", ".join(sorted(containers))
                yield doc.problem(
                    path, f"'before' names no container of this workload: '{other}' (known: {known})"
                )
            else:
                waits[cname].add(other)
    looped = _in_cycles(waits)
    if looped:
        first = looped[0]
        yield doc.problem(
            ("containers", first, "before"),
            f"the 'before' entries form a cycle (containers on or between cycles: {', '.join(looped)})",
        )


def _in_cycles(edges: Mapping[str, set[str]]) -> list[str]:
    """The nodes left after repeatedly removing nodes nothing points to or that point to nothing."""
    left = {n: set(out) for n, out in edges.items()}
    changed = True
    while changed:
        pointed = {o for out in left.values() for o in out}
        keep = {n for n, out in left.items() if out and n in pointed}
        changed = keep != set(left)
        left = {n: out & keep for n, out in left.items() if n in keep}
    return sorted(left)
