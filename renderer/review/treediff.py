"""Two environment-repo trees compared object by object, as data, with no secret material shown.

In: two trees (path → bytes), as the environment repo holds them and as a fresh render gives
them; `.render/` (bookkeeping) is left out. Out: a `TreeDiff`, one `ObjectChange` per file that
differs as data (YAML and JSON parsed, so key order and formatting never count), each with a
unified diff of both sides dumped canonically (sorted keys), in a stable order.

Secret material never reaches a diff: the values of a Secret's `data` and `stringData` become
placeholders that say only their size and whether they changed, and every diff line that the
secret scan's detectors flag (or that holds one of the renderer's own credentials) is masked.

Scopes: `kubernetes/<env>/<app>/…` and `terraform/<env>/<app>/…` are `<env>/<app>` (`<app>` may be
`_shared`), files of an environment itself (`kubernetes/<env>/kustomization.yaml`, `clusters/<env>/…`)
are `<env>`, an environment's Terraform modules are `terraform/<env>/modules`, top-level files
(`atlantis.yaml`) are `repo`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from renderer.checks.secrets import formats_in
from renderer.data import Json, json_object
from renderer.errors import InputError, redact
from renderer.inputs.yamlio import dump, dump_json, load_generated, load_json
from renderer.render.terraform import is_module_path

Status = Literal["added", "changed", "removed"]
IGNORED = (".render/",)
REPO_SCOPE = "repo"
SECRET_FIELDS = ("data", "stringData")
CONTEXT_LINES = 3


@dataclass(frozen=True, slots=True)
class ObjectChange:
    scope: str  # `<env>/<app>`, `<env>/_shared`, `<env>`, `terraform/<env>/modules`, `repo`
    path: str  # the file in the environment repo
    status: Status
    kind: str  # the object's kind (`Deployment`), `terraform`, `terraform-module`, `atlantis`, `file`
    diff: str  # unified diff of the canonical dumps, secrets redacted; ends with a newline
    name: str = ""  # the object's `metadata.name`, when it has one
    target: str = ""  # the branch a publish sends it to (`main`, `render/<env>/<scope>`), when known

    @property
    def added_lines(self) -> int:
        return sum(
            1 for line in self.diff.splitlines() if line.startswith("+") and not line.startswith("+++")
        )

    @property
    def removed_lines(self) -> int:
        return sum(
            1 for line in self.diff.splitlines() if line.startswith("-") and not line.startswith("---")
        )


@dataclass(frozen=True, slots=True)
class ScopeSummary:
    scope: str
    added: int
    changed: int
    removed: int
    projects: tuple[str, ...]  # Terraform projects touched (`terraform/<env>/<app>`)
    modules: tuple[str, ...]  # Terraform modules touched (`terraform/<env>/modules/<name>`)


@dataclass(frozen=True, slots=True)
class TreeDiff:
    changes: tuple[ObjectChange, ...]
    warnings: tuple[str, ...] = ()  # policy warnings of the new render, for the summary

    @property
    def empty(self) -> bool:
        return not self.changes

    def scopes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.scope for c in self.changes))

    def in_scope(self, scope: str) -> tuple[ObjectChange, ...]:
        return tuple(c for c in self.changes if c.scope == scope)

    def summary(self) -> tuple[ScopeSummary, ...]:
        return tuple(_summarise(scope, self.in_scope(scope)) for scope in self.scopes())


def compare(
    old: Mapping[str, bytes],
    new: Mapping[str, bytes],
    *,
    sensitive: Sequence[str] = (),
    warnings: Sequence[str] = (),
    target: str = "",
) -> TreeDiff:
    """Every file that differs as data between `old` and `new`, in (scope, path) order.

    `sensitive`: the renderer's own credentials, masked wherever they would appear."""
    paths = sorted({p for p in (*old, *new) if not p.startswith(IGNORED)}, key=lambda p: (scope_of(p), p))
    changes = []
    for path in paths:
        if old.get(path) == new.get(path):
            continue  # the same bytes: the same data, nothing to parse
        change = _compare_file(path, old.get(path), new.get(path), sensitive)
        if change is not None:
            changes.append(replace(change, target=target))
    return TreeDiff(tuple(changes), tuple(warnings))


def scope_of(path: str) -> str:
    parts = path.split("/")
    if len(parts) == 1:
        return REPO_SCOPE
    if is_module_path(path):
        return "/".join(parts[:3])  # terraform/<env>/modules
    if parts[0] in ("kubernetes", "terraform") and len(parts) >= 4:
        return f"{parts[1]}/{parts[2]}"
    if parts[0] in ("kubernetes", "terraform", "clusters") and len(parts) >= 3:
        return parts[1]
    return parts[0]


def project_of(path: str) -> str | None:
    """The Terraform project (`terraform/<env>/<app>`) or module (`terraform/<env>/modules/<name>`)
    a path is in."""
    parts = path.split("/")
    if parts[0] != "terraform" or len(parts) < 4:
        return None
    if is_module_path(path):
        return "/".join(parts[:4])
    return "/".join(parts[:3])


def is_module(path: str) -> bool:
    return is_module_path(path)


# ---- one file ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Side:
    data: Json  # the parsed value: a list of documents for YAML, the value for JSON
    parsed: bool  # False: compared as text
    text: str


def _compare_file(
    path: str, old: bytes | None, new: bytes | None, sensitive: Sequence[str]
) -> ObjectChange | None:
    before = _parse(path, old) if old is not None else None
    after = _parse(path, new) if new is not None else None
    if before is not None and after is not None and _same(before, after):
        return None
    status: Status = "added" if before is None else "removed" if after is None else "changed"
    old_text, new_text = _canonical_pair(path, before, after)
    lines = difflib.unified_diff(
        old_text.splitlines(),
        new_text.splitlines(),
        fromfile="/dev/null" if before is None else f"a/{path}",
        tofile="/dev/null" if after is None else f"b/{path}",
        n=CONTEXT_LINES,
        lineterm="",
    )
    diff = _masked(list(lines), sensitive)
    shown = after if after is not None else before
    assert shown is not None  # one side at least exists: the path came from one of the trees
    kind, name = _kind(path, shown)
    return ObjectChange(scope_of(path), path, status, kind, diff, name)


def _same(a: _Side, b: _Side) -> bool:
    if a.parsed and b.parsed:
        return a.data == b.data and _types(a.data) == _types(b.data)
    return a.text == b.text


def _types(value: Json) -> Json:
    """The value with every scalar replaced by its type name: `1 == 1.0 == True` in Python, not in YAML."""
    if isinstance(value, Mapping):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_types(v) for v in value]
    return type(value).__name__


def _parse(path: str, data: bytes) -> _Side:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _Side(None, False, f"(binary file, {len(data)} bytes)\n")
    try:
        if path.endswith(".json"):
            return _Side(load_json(text, path), True, text)
        if path.endswith((".yaml", ".yml")):
            return _Side(load_generated(text, path), True, text)
    except InputError:
        pass  # not what it says it is: compared as text
    return _Side(None, False, text)


def _canonical_pair(path: str, before: _Side | None, after: _Side | None) -> tuple[str, str]:
    """Both sides dumped canonically, a Secret's values replaced by what may be said about them."""
    old_docs = _as_docs(path, before)
    new_docs = _as_docs(path, after)
    old_shown = [_redact_secret(d, _doc(new_docs, i), "old") for i, d in enumerate(old_docs)]
    new_shown = [_redact_secret(d, _doc(old_docs, i), "new") for i, d in enumerate(new_docs)]
    return _dumped(path, before, old_shown), _dumped(path, after, new_shown)


def _as_docs(path: str, side: _Side | None) -> list[Json]:
    """A parsed side as a list of documents (a JSON file is one)."""
    if side is None or not side.parsed:
        return []
    return [side.data] if path.endswith(".json") else _docs(side.data)


def _docs(data: Json) -> list[Json]:
    return list(data) if isinstance(data, list) else []


def _doc(data: Json, index: int) -> Json:
    docs = _docs(data)
    return docs[index] if index < len(docs) else None


def _dumped(path: str, side: _Side | None, docs: list[Json]) -> str:
    if side is None:
        return ""
    if not side.parsed:
        return _unparsed(side.text)
    if path.endswith(".json"):
        return dump_json(docs[0] if docs else None)
    return "---\n".join(dump(d) for d in docs)


_SECRET_KIND = re.compile(r"""["']?kind["']?\s*:\s*["']?Secret\b""")


def _unparsed(text: str) -> str:
    """A file that did not parse is shown as text, unless it may hold a Secret: its values could
    not be told from the rest, so none of it is shown."""
    if _SECRET_KIND.search(text):
        return f"(a file that does not parse and may hold a Secret, {len(text.encode())} bytes: not shown)\n"
    return text


def _redact_secret(doc: Json, other: Json, side: Literal["old", "new"]) -> Json:
    """A Secret with its values replaced: `<redacted: N bytes, new value>` and the like; a List's
    Secrets too."""
    if not isinstance(doc, Mapping):
        return doc
    kind = doc.get("kind")
    items = doc.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        theirs = json_object(other).get("items") if isinstance(other, Mapping) else None
        return {**doc, "items": [_redact_secret(d, _doc(theirs, i), side) for i, d in enumerate(items)]}
    if kind != "Secret":
        return doc
    other_obj = json_object(other) if isinstance(other, Mapping) and other.get("kind") == "Secret" else {}
    out = dict(doc)
    for field_name in SECRET_FIELDS:
        values = doc.get(field_name)
        if not isinstance(values, Mapping):
            if values is not None:
                out[field_name] = _placeholder(values, None, side)
            continue
        mine = json_object(other_obj.get(field_name))
        out[field_name] = {k: _placeholder(v, mine.get(k, _MISSING), side) for k, v in values.items()}
    return out


_MISSING = object()


def _placeholder(value: Json, other: object, side: Literal["old", "new"]) -> str:
    size = len(str(value).encode()) if value is not None else 0
    if other is _MISSING or other is None:
        how = "added" if side == "new" else "removed"
    elif other == value:
        how = "unchanged"
    else:
        how = "new value" if side == "new" else "old value"
    return f"<redacted: {size} bytes, {how}>"


def _masked(lines: list[str], sensitive: Sequence[str]) -> str:
    """Diff lines, each that a secret detector flags replaced by a note saying so."""
    if not lines:
        return ""
    text = "\n".join(lines) + "\n"
    text = redact(text, sensitive) if sensitive else text
    if not formats_in(text):
        return text
    out = []
    for line in text.splitlines():
        kinds = formats_in(line) if not line.startswith(("---", "+++", "@@")) else []
        out.append(f"{line[:1]} <masked: looks like a secret ({', '.join(kinds)})>" if kinds else line)
    return "\n".join(out) + "\n"


def _kind(path: str, side: _Side) -> tuple[str, str]:
    if path.endswith(".tf.json"):
        return ("terraform-module" if is_module(path) else "terraform"), ""
    if path == "atlantis.yaml":
        return "atlantis", ""
    docs = [json_object(d) for d in _docs(side.data) if isinstance(d, Mapping)] if side.parsed else []
    kinds = [str(d["kind"]) for d in docs if isinstance(d.get("kind"), str)]
    if not kinds:
        return "file", ""
    names = [str(json_object(d.get("metadata")).get("name", "")) for d in docs]
    return ",".join(kinds), ",".join(n for n in names if n)


def _summarise(scope: str, changes: Iterable[ObjectChange]) -> ScopeSummary:
    items = list(changes)
    count = {s: sum(1 for c in items if c.status == s) for s in ("added", "changed", "removed")}
    touched = {p for c in items if (p := project_of(c.path))}
    modules = tuple(sorted({p for c in items if is_module(c.path) and (p := project_of(c.path))}))
    projects = tuple(sorted(touched - set(modules)))
    return ScopeSummary(scope, count["added"], count["changed"], count["removed"], projects, modules)


# ---- formats ----------------------------------------------------------------------------------


def text(diff: TreeDiff) -> str:
    """The summary, then every object's diff: for a terminal or a job log."""
    if diff.empty:
        return "no changes\n" + "".join(f"WARN {w}\n" for w in diff.warnings)
    out = [summary_line(s) for s in diff.summary()]
    out += [f"warning: {w}" for w in diff.warnings]
    for change in diff.changes:
        to = f" (to {change.target})" if change.target not in ("", "main") else ""
        out += [
            "",
            f"# {change.scope}: {change.status} {change.kind} {change.path}{to}",
            change.diff.rstrip("\n"),
        ]
    return "\n".join(out) + "\n"


def summary_line(s: ScopeSummary) -> str:
    parts = [f"{s.scope}: {s.added} added, {s.changed} changed, {s.removed} removed"]
    if s.projects:
        parts.append(f"Terraform projects {', '.join(s.projects)}")
    if s.modules:
        parts.append(f"modules {', '.join(s.modules)}")
    return "; ".join(parts)


def as_json(diff: TreeDiff) -> dict[str, Json]:
    """The diff as plain data (`--format json`)."""
    return {
        "empty": diff.empty,
        "summary": [
            {
                "scope": s.scope,
                "added": s.added,
                "changed": s.changed,
                "removed": s.removed,
                "terraform_projects": list(s.projects),
                "terraform_modules": list(s.modules),
            }
            for s in diff.summary()
        ],
        "changes": [
            {
                "scope": c.scope,
                "path": c.path,
                "status": c.status,
                "kind": c.kind,
                "name": c.name,
                "target": c.target,
                "diff": c.diff,
            }
            for c in diff.changes
        ],
        "warnings": list(diff.warnings),
    }
