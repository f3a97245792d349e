"""App directories → App values: Score files, per-environment overrides, file sources."""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import cast

from renderer.data import Doc, Json, as_json
from renderer.errors import Collector, InputError, Problem, of_kind
from renderer.inputs import score
from renderer.inputs.confine import Listed, Root, split
from renderer.inputs.documents import display, only_doc, parse_docs
from renderer.inputs.overrides import merge_patch
from renderer.inputs.spec import SCORE_GLOB, check_document
from renderer.inputs.yamlio import DEFAULT_LIMITS
from renderer.model import App, Limits, Workload, WorkloadSpec

# the file beside an app's stored inputs that holds the environment repo's record of it
# (`.render/apps/<app>/index.json`, publish/bookkeeping.py): no input of the app may take its name
STORED_INDEX = "index.json"


# a listed name the loader could not open by that name: `confine.split` takes `\\` as a separator
BACKSLASH = ("the name holds a backslash, which is read as a folder separator", "rename it")


def _git_own(part: str) -> bool:
    """A name git takes for one of its own files (`.git*`) on some system, as its protectHFS and
    protectNTFS rules do: whatever the case, with invisible characters (HFS+ ignores them) or
    trailing dots and spaces (NTFS drops them), or as an 8.3 short name (`git~1`, `gitatt~1`)."""
    plain = "".join(c for c in part if unicodedata.category(c) != "Cf").lower().rstrip(". ")
    return plain.startswith(".git") or re.match(r"git[a-z]{0,3}~[0-9]", plain) is not None


class _Reader:
    """An app's folder, read only through `confine.Root`; it keeps the bytes of every file it read."""

    def __init__(self, source: Root, problems: Collector, limits: Limits) -> None:
        self.source = source
        self.problems = problems
        self.limits = limits
        self.files: dict[str, bytes] = {}
        self.size = 0  # bytes of every file read so far
        self.full = False  # over limits.app_bytes: nothing more is read

    def read(self, rel: str, yaml_path: str = "", owner_file: str = "") -> bytes | None:
        """A file's bytes, kept for the environment repo's store; None once the app is over its
        byte budget (reported once). Confinement problems raise, as `Root.read` does."""
        if self.full:
            return None
        try:  # the parts the file is opened by (`confine.split`: `\\` separates them too)
            parts = split(rel)
        except ValueError:
            parts = []  # the read below refuses it, saying why
        if any(_git_own(part) for part in parts):
            # stored under .render/apps/<app>/, a .gitattributes would change how git checks the
            # app's stored inputs out (line endings, encodings) before they are read back
            what = "is one of git's own files (.git*), which the environment repo cannot store"
            raise self.source.refuse(rel, yaml_path, owner_file, what, "rename it")
        if parts[:1] == [STORED_INDEX]:
            # stored as it is read, the file would be overwritten by the app's index, and a later
            # render of the stored app would read the index in its place; a folder of that name
            # could not be stored beside the index at all
            what = "is the name the environment repo keeps the app's index under, beside its inputs"
            raise self.source.refuse(rel, yaml_path, owner_file, what, "rename it")
        data = self.source.read(rel, yaml_path, owner_file)
        self.size += len(data)
        if self.size > self.limits.app_bytes:
            self.full = True
            what = f"the app's files together are larger than {self.limits.app_bytes} bytes"
            self.problems.add(self.source.display, 0, "", *self.limits.over("app_bytes", what))
            return None
        self.files["/".join(parts)] = data  # stored by the name it was read by
        return data

    def doc(self, rel: str) -> Doc | None:
        """The one YAML document of a file."""
        try:
            data = self.read(rel)
        except InputError as exc:
            self.problems.extend(exc.problems())
            return None
        if data is None:
            return None
        before = len(self.problems.items)
        docs = parse_docs(data, self.source.name(rel), self.problems, self.limits)
        if not docs and len(self.problems.items) == before:
            self.refuse(rel, "holds no YAML document", "a Score file or override is one YAML mapping")
        return only_doc(docs, self.problems)

    def refuse(self, rel: str, message: str, hint: str = "") -> None:
        self.problems.add(self.source.name(rel), 0, "", message, hint)

    def listing(self, rel: str, want: str) -> list[str]:
        """Names of the `want` ('file' or 'dir') entries of a folder; links and others are problems."""
        names = []
        for name, kind in self.source.listdir(rel):
            path = f"{rel}/{name}" if rel else name
            if not name.isprintable():
                self.refuse(path.encode("unicode_escape").decode(), "the name holds a control character")
            elif "\\" in name:
                self.refuse(path, *BACKSLASH)
            elif kind == want:
                names.append(name)
            elif kind == "link":
                self.problems.add(
                    self.source.name(path),
                    0,
                    "",
                    "is a symbolic link",
                    "links are not followed: commit the file itself",
                )
            else:
                self.problems.add(
                    self.source.name(path),
                    0,
                    "",
                    f"a {want} is expected here"
                    if want == "dir"
                    else "a file is expected here, not a folder or special file",
                )
        return names


def _app(source: Root, ident: str, problems: Collector, limits: Limits) -> App:
    reader = _Reader(source, problems, limits)
    workloads = _workloads(reader, ident)
    overrides = _overrides(reader, workloads)
    base = tuple(workloads[k] for k in sorted(workloads))
    variants = {env: _variant(reader, base, patches) for env, patches in sorted(overrides.items())}
    first_files = {env: next(iter(p.values())).file for env, p in overrides.items()}
    files = dict(sorted(reader.files.items()))
    return App(ident, source.path, base, variants, first_files, files, reader.source.display)


def _workloads(reader: _Reader, ident: str) -> dict[str, Workload]:
    """Every `score*.yaml` of the app, one workload each, names unique."""
    try:
        found = [n for n, kind in reader.source.listdir() if fnmatch.fnmatchcase(n, SCORE_GLOB)]
    except InputError as exc:
        reader.problems.extend(exc.problems())
        return {}
    if not found:
        reader.problems.add(reader.source.display, 0, "", f"no {SCORE_GLOB} files in this app directory")
    names = [n for n in found if n.isprintable() and "\\" not in n]
    for name in sorted(set(found) - set(names)):
        if not name.isprintable():
            reader.refuse(name.encode("unicode_escape").decode(), "the name holds a control character")
        else:
            reader.refuse(name, *BACKSLASH)
    limit = reader.limits.workloads
    if len(names) > limit:
        what = f"{len(names)} Score files (one workload each)"
        reader.problems.add(reader.source.display, 0, "", *reader.limits.over("workloads", what))
        return {}
    workloads: dict[str, Workload] = {}
    for name in names:
        if reader.source.kind(name) != "file":
            reader.refuse(name, "a Score file must be a regular file", "links are not followed")
            continue
        wl = _workload_file(reader, name, ident)
        if wl is None:
            continue
        if wl.name in workloads:
            reader.problems.add(
                wl.file,
                wl.doc.line(["metadata", "name"]),
                "metadata.name",
                f"workload '{wl.name}' is also defined in {workloads[wl.name].file}",
                "workload names must be unique within an app",
            )
            continue
        workloads[wl.name] = wl
    return workloads


def _overrides(reader: _Reader, workloads: Mapping[str, Workload]) -> dict[str, dict[str, Doc]]:
    """`overrides/<env>/<workload>.yaml`: env id → workload name → its merge patch."""
    overrides: dict[str, dict[str, Doc]] = {}
    kind = reader.source.kind("overrides")
    if kind == "missing":
        return overrides
    if kind != "dir":
        reader.refuse("overrides", "must be a folder", "links are not followed")
        return overrides
    try:
        found = [
            (e, f)
            for e in reader.listing("overrides", "dir")
            for f in reader.listing(f"overrides/{e}", "file")
        ]
    except InputError as exc:
        reader.problems.extend(exc.problems())
        return overrides
    for env_id, file in found:
        name, ext = os.path.splitext(file)
        if ext != ".yaml":
            reader.refuse(
                f"overrides/{env_id}/{file}", "an override is a .yaml file named after its workload"
            )
            continue
        doc = reader.doc(f"overrides/{env_id}/{file}")
        if doc is None:
            continue
        if name not in workloads:
            reader.problems.add(
                doc.file,
                1,
                "",
                f"override for unknown workload '{name}'",
                f"workloads in this app: {', '.join(sorted(workloads)) or 'none'}",
            )
            continue
        overrides.setdefault(env_id, {})[name] = doc
    return overrides


def _workload_file(reader: _Reader, rel: str, app: str) -> Workload | None:
    doc = reader.doc(rel)
    if doc is None:
        return None
    spec = _validate(doc, reader.problems, reader.limits)
    if spec is None:
        return None
    sources = _sources(reader, spec, doc)
    return Workload(app, spec["metadata"]["name"], doc.file, reader.source.path, spec, doc, sources, rel)


def _validate(doc: Doc, problems: Collector, limits: Limits) -> WorkloadSpec | None:
    """The one place a Score document becomes a WorkloadSpec: validated once, trusted after.

    First as score-go judges it (`spec`: wrong whatever the platform), then as the renderer reads
    it, stricter in places (`platform`, the collector's kind): mount targets, ports, lookups."""
    found = _over_limits(doc.data, doc, limits) or of_kind(check_document(doc), "spec")
    if not found:
        data, issues = score.upgrade(doc.data)
        found = [doc.problem(path, message) for path, message in issues] or score.check_schema(data, doc)
        if not found:
            # Sound: `data` has just passed schemas/score-v1b1.json, after `upgrade` turned the
            # deprecated list forms into maps (a list it cannot turn into a map fails the schema), and
            # WorkloadSpec mirrors that schema. The semantic checks read it typed.
            workload = cast(WorkloadSpec, data)
            found = score.check_semantics(workload, doc)
            if not found:
                return workload
    problems.extend(found)
    return None


def _sources(reader: _Reader, spec: WorkloadSpec, doc: Doc) -> dict[str, bytes]:
    """Read every file `source:` once, inside the app folder, so rendering stays pure."""
    out: dict[str, bytes] = {}
    for cname, container in sorted(spec["containers"].items()):
        for target, f in sorted((container.get("files") or {}).items()):
            source = f.get("source")
            if source is None or source in out:
                continue
            try:
                data = reader.read(source, owner_file=doc.file)
            except InputError as exc:
                path = ("containers", cname, "files", target, "source")
                reader.problems.extend(
                    [doc.problem(path, f"file source {p.message}", p.hint) for p in exc.problems()]
                )
                continue
            if data is not None:
                out[source] = data
    return out


def _over_limits(data: Json, doc: Doc, limits: Limits) -> list[Problem]:
    """Containers, resources and file mounts of one workload, counted before the schema reads them."""
    if not isinstance(data, Mapping):
        return []
    containers = data.get("containers")
    resources = data.get("resources")
    counts = {"containers": _size(containers), "resources": _size(resources)}
    if isinstance(containers, Mapping):
        counts["files"] = sum(_size(c.get("files")) for c in containers.values() if isinstance(c, Mapping))
    problems = []
    for key, count in counts.items():
        if count > getattr(limits, key):
            path = [] if key == "files" else [key]
            what = f"{count} {'file mounts' if key == 'files' else key} in this workload"
            problems.append(doc.problem(path, *limits.over(key, what)))
    return problems


def _size(value: Json) -> int:
    return len(value) if isinstance(value, Mapping | list) else 0


def _variant(reader: _Reader, base: tuple[Workload, ...], patches: dict[str, Doc]) -> tuple[Workload, ...]:
    """The workloads with one environment's JSON Merge Patches applied, checked again.

    A file `source:` an override names is read here, after merging, under the same rules."""
    out = []
    for wl in base:
        patch = patches.get(wl.name)
        if patch is None:
            out.append(wl)
            continue
        doc = Doc(wl.doc.file, merge_patch(as_json(wl.spec), patch.data), wl.doc.lines, overlay=patch)
        found = Collector()
        spec = _validate(doc, found, reader.limits)
        # a problem the base file does not have, placed on it, comes from the override: say so
        reader.problems.extend(
            [
                p if p.file != wl.file else dataclasses.replace(p, hint=f"with {patch.file} applied")
                for p in found.items
            ]
        )
        if spec is None:
            continue  # reported; load_apps raises before any App leaves
        if spec["metadata"]["name"] != wl.name:
            reader.problems.extend([patch.problem(["metadata", "name"], "an override cannot rename")])
        sources = _sources(reader, spec, doc)
        out.append(Workload(wl.app, wl.name, wl.file, wl.base_dir, spec, doc, sources, wl.rel))
    return tuple(out)


def load_apps(
    dirs: Sequence[str], root: str, names: Sequence[str] | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[App, ...]:
    """Apps by folder; each is named after its folder unless `names` (one per folder) says otherwise.

    `limits` are the platform's (trust.yaml): what one app may bring."""
    problems = Collector("platform")  # what score-go would refuse is labelled `spec` where it is found
    apps = []
    for i, folder in enumerate(dirs):
        folder = os.path.abspath(folder)
        source = Root(folder, display(folder, root), limits.file_bytes, limits.app_files)
        apps.append(
            _app(source, names[i] if names else os.path.basename(folder.rstrip("/")), problems, limits)
        )
    problems.raise_if_any()
    first: dict[str, App] = {}
    for app in apps:
        if app.id in first:
            problems.add(
                app.display,
                0,
                "",
                f"app id '{app.id}' is given twice: {first[app.id].display} and {app.display}",
            )
        first.setdefault(app.id, app)
    problems.raise_if_any()
    return tuple(sorted(apps, key=lambda a: a.id))


def load_listed(
    folder: str, root: str, files: Mapping[str, tuple[str, bytes | None]], limits: Limits = DEFAULT_LIMITS
) -> App:
    """One app from its files as git's objects hold them (`confine.Listed`), read as `load_apps`
    reads the same files from `folder` on disk: the same checks, limits and messages."""
    folder = os.path.abspath(folder)
    source = Listed(folder, display(folder, root), limits.file_bytes, limits.app_files, files)
    problems = Collector("platform")
    app = _app(source, os.path.basename(folder.rstrip("/")), problems, limits)
    problems.raise_if_any()
    return app


def example_app_dirs(root: str) -> list[str]:
    return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(root, "examples", "apps", "*", "")))
