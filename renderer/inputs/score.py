"""Score workloads: deprecated forms upgraded, schema and semantic checks, placeholders located."""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Iterator, Mapping, Sequence

from renderer.data import Doc, Json, PathKey, walk
from renderer.errors import Problem
from renderer.inputs import schema
from renderer.inputs.confine import split
from renderer.inputs.placeholders import PLACEHOLDER, find_refs, split_ref
from renderer.model import ScoreContainer, ScoreMetadata, ScoreResource, WorkloadSpec

SCHEMA = "score-v1b1"


def upgrade(data: Json) -> tuple[Json, list[tuple[PathKey, str]]]:
    """Deprecated list forms of files/volumes and `read_only` → current forms.

    Returns the upgraded data and, for each list item that cannot be upgraded, its path and why.
    """
    if not isinstance(data, dict) or not isinstance(data.get("containers"), dict):
        return data, []
    out = dict(data)
    containers: dict[str, Json] = {}
    issues: list[tuple[PathKey, str]] = []
    for cname, container in data["containers"].items():
        if not isinstance(container, dict):
            containers[cname] = container
            continue
        container = dict(container)
        for section in ("files", "volumes"):
            items = container.get(section)
            if isinstance(items, list):
                container[section] = _list_to_map(items, ("containers", cname, section), issues)
        vols = container.get("volumes")
        if isinstance(vols, dict):
            container["volumes"] = {t: _read_only(v) for t, v in vols.items()}
        containers[cname] = container
    out["containers"] = containers
    return out, issues


def _list_to_map(items: Sequence[Json], path: PathKey, issues: list[tuple[PathKey, str]]) -> Json:
    result: dict[str, Json] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return items  # leave it to the schema to report
        target = item.get("target")
        if not isinstance(target, str) or not target:
            issues.append(((*path, i), "a list item needs 'target' (the path in the container)"))
            continue
        if target in result:
            issues.append(((*path, i, "target"), f"target {target!r} is given twice"))
            continue
        result[target] = {k: v for k, v in item.items() if k != "target"}
    return result


def _read_only(volume: Json) -> Json:
    if isinstance(volume, dict) and "read_only" in volume and "readOnly" not in volume:
        volume = {("readOnly" if k == "read_only" else k): v for k, v in volume.items()}
    return volume


def check_schema(data: Json, doc: Doc) -> list[Problem]:
    """Schema problems of one (upgraded, merged) workload; none means it has WorkloadSpec's shape."""
    return schema.check(SCHEMA, data, doc)


def check_semantics(spec: WorkloadSpec, doc: Doc) -> list[Problem]:
    """What the schema cannot say: references, mount targets, file sources, `before`, ports."""
    return list(_semantics(spec, doc))


def expanded_strings(data: WorkloadSpec) -> Iterator[tuple[PathKey, str]]:
    """Every string the spec expands placeholders in, with its path (volume sources excluded)."""
    for cname, c in sorted(data["containers"].items()):
        base: PathKey = ("containers", cname)
        for key, value in sorted((c.get("variables") or {}).items()):
            yield (*base, "variables", key), value
        for section, values in (("command", c.get("command")), ("args", c.get("args"))):
            for i, value in enumerate(values or []):
                yield (*base, section, i), value
        for target, f in sorted((c.get("files") or {}).items()):
            if "content" in f and not f.get("noExpand"):
                yield (*base, "files", target, "content"), f["content"]
    for rname, r in sorted((data.get("resources") or {}).items()):
        for path, leaf in walk(r.get("params") or {}, ("resources", rname, "params")):
            if isinstance(leaf, str):
                yield path, leaf


def volume_resource(source: str) -> str | None:
    """The resource a volume source names: `${resources.NAME}` (two parts) only."""
    match = PLACEHOLDER.fullmatch(source)
    if not match or match.group(1).startswith("$"):
        return None
    parts = split_ref(match.group(2))
    if len(parts) == 2 and parts[0] == "resources":
        return parts[1]
    return None


def _semantics(data: WorkloadSpec, doc: Doc) -> Iterator[Problem]:
    resources = data.get("resources") or {}
    metadata = data["metadata"]
    for path, text in expanded_strings(data):
        for ref in find_refs(text):
            message = _ref_problem(ref, metadata, resources, in_params=path[0] == "resources")
            if message:
                yield doc.problem(path, message, "use $$ for a literal $")
    containers = data["containers"]
    for cname, c in sorted(containers.items()):
        yield from _container(cname, c, resources, doc)
    seen: dict[tuple[int, str], str] = {}
    for pname, port in sorted((data.get("service") or {}).get("ports", {}).items()):
        key = (port["port"], port.get("protocol", "TCP"))
        if key in seen:
            yield doc.problem(
                ("service", "ports", pname, "port"),
                f"port {key[0]}/{key[1]} is also published by '{seen[key]}'",
                "give each service port a distinct number",
            )
        seen[key] = pname
    for rname, r in sorted(resources.items()):
        if r.get("params") is not None and not isinstance(r["params"], dict):
            yield doc.problem(("resources", rname, "params"), "params must be a mapping")


def _ref_problem(
    ref: str, metadata: ScoreMetadata, resources: Mapping[str, ScoreResource], in_params: bool
) -> str:
    parts = split_ref(ref)
    if parts[0] == "metadata":
        if len(parts) < 2:
            return f"invalid ref '{ref}': requires at least a metadata key to lookup"
        value: object = metadata
        for depth, key in enumerate(parts[1:], start=1):
            where = ".".join(p.replace(".", "\\.") for p in parts[:depth])  # as the reference spells it
            if not isinstance(value, dict):
                return f"invalid ref '{ref}': cannot look up '{key}': {where} is not a map"
            if key not in value:
                return f"invalid ref '{ref}': {where} has no key '{key}'"
            value = value[key]
        return ""
    if parts[0] == "resources":
        if len(parts) < 2:
            return f"invalid ref '{ref}': requires at least a resource name to lookup"
        if parts[1] not in resources:
            known = ", ".join(sorted(resources)) or "none declared"
            return f"invalid ref '{ref}': no resource '{parts[1]}' is declared (known: {known})"
        if len(parts) == 2:
            return (
                f"invalid ref '{ref}': a resource itself can only be used as a volume source; "
                "name one of its outputs"
            )
        return ""
    return f"invalid ref '{ref}': unknown reference root '{parts[0]}', use $$ to escape"


def _container(
    cname: str, c: ScoreContainer, resources: Mapping[str, ScoreResource], doc: Doc
) -> Iterator[Problem]:
    """Mount targets, file contents and sources, volume sources; `before` is the spec's."""
    path: PathKey = ("containers", cname)
    mounts: dict[str, str] = {}  # normalised target → "file" or "volume"
    yield from _files(path, c, doc, mounts)
    yield from _volumes(path, c, resources, doc, mounts)


def _files(path: PathKey, c: ScoreContainer, doc: Doc, mounts: dict[str, str]) -> Iterator[Problem]:
    for target, f in sorted((c.get("files") or {}).items()):
        fpath = (*path, "files", target)
        if not posixpath.isabs(target):
            yield doc.problem(fpath, f"file target {target!r} must be an absolute path")
        mounts[posixpath.normpath(target)] = "file"
        if "binaryContent" in f:
            try:
                base64.b64decode(f["binaryContent"], validate=True)
            except (binascii.Error, ValueError):
                yield doc.problem((*fpath, "binaryContent"), "binaryContent is not valid standard base64")
        if "source" in f:
            try:
                split(f["source"])
            except ValueError as exc:
                yield doc.problem(
                    (*fpath, "source"),
                    f"file source {f['source']!r} {exc}",
                    "name a file inside the app directory, relative to the Score file",
                )


def _volumes(
    path: PathKey,
    c: ScoreContainer,
    resources: Mapping[str, ScoreResource],
    doc: Doc,
    mounts: dict[str, str],
) -> Iterator[Problem]:
    for target, v in sorted((c.get("volumes") or {}).items()):
        vpath = (*path, "volumes", target)
        if not posixpath.isabs(target):
            yield doc.problem(vpath, f"volume target {target!r} must be an absolute path")
        norm = posixpath.normpath(target)
        if norm in mounts:
            yield doc.problem(vpath, f"{target!r} is already mounted as a {mounts[norm]}")
        mounts[norm] = "volume"
        name = volume_resource(v["source"])
        if name is None and v["source"] in resources:
            name = v["source"]  # the legacy plain-name form
        if name is None:  # `${resources.NAME}` of an undeclared NAME is the spec's (inputs/spec.py)
            yield doc.problem(
                (*vpath, "source"),
                f"volume source {v['source']!r} must be ${{resources.NAME}} of a declared resource",
            )
