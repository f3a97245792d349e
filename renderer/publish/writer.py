"""Write a rendered tree into a directory: owned paths replaced wholesale, unchanged bytes untouched."""

from __future__ import annotations

import bisect
import json
import os
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial

from renderer import __version__
from renderer.data import Json, blob_id
from renderer.errors import UsageError
from renderer.inputs.yamlio import dump_json
from renderer.model import Platform
from renderer.pipeline import Progress, silent
from renderer.render.terraform import atlantis_file, project_modules
from renderer.render.tree import env_kustomizations

PROGRESS_EVERY = 500  # files between two progress reports
# .render/projects/<env>.json: each Terraform project of the environment → the git object id of its
# main.tf.json and the modules it calls, as the last publish derived atlantis.yaml (format in
# docs/decisions.md): a publish of one app reads the projects whose file changed since, not
# thousands. One file per environment, so that merge requests of different environments do not
# conflict on it.
PROJECTS = ".render/projects"
PROJECTS_VERSION = 1


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: tuple[str, ...]
    deleted: tuple[str, ...]
    unchanged: int
    data: Mapping[str, bytes] = field(default_factory=dict)  # the bytes of each path written


class _Guard:
    """Where a path below `root` really is: its real path (every link followed), refused if that
    is outside `root`. Each folder's real path is worked out once: a render writes tens of
    thousands of files into a few thousand folders, and resolving every part of every path again
    costs an `lstat` a part. The name itself is resolved only when it is a link (or `.`, `..`),
    which gives what resolving the whole path gives (`tests/security/test_writer_guard.py`)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self._folders: dict[str, str] = {"": self.root}

    def __call__(self, rel: str) -> str:
        folder, _, name = rel.rpartition("/")
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = os.path.realpath(os.path.join(self.root, folder))
        full = os.path.join(real, name)
        if name in ("", ".", "..") or os.path.islink(full):
            full = os.path.realpath(full)
        if not full.startswith(self.root + os.sep):
            raise UsageError(f"refusing to write outside the output directory: {rel}")
        return full


def list_files(root: str) -> dict[str, str]:
    """Repo-relative POSIX path → absolute path, for every file below root (git dir excluded)."""
    out: dict[str, str] = {}
    folders = [(root, "")]
    while folders:  # os.walk's rules (a link to a folder is neither listed nor entered), faster
        folder, rel = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir():
                if entry.name != ".git" and not entry.is_symlink():
                    folders.append((entry.path, f"{rel}{entry.name}/"))
            else:
                out[f"{rel}{entry.name}"] = entry.path
    return dict(sorted(out.items()))


# path → bytes, for many paths at once; a path that is not a regular file is left out
ReadMany = Callable[[Collection[str]], Mapping[str, bytes]]


@dataclass(frozen=True, slots=True)
class Held:
    """The files a checkout holds: their paths, and their bytes read many at a time. On disk
    (`on_disk`), or as the checked-out commit's tree records them (`delivery`, `gitrepo.index`):
    a partial checkout leaves most files out of the directory, and a reader cannot tell them from
    the others."""

    paths: Collection[str]
    read: ReadMany
    # path → git's object id of a regular file, where the tree says (`delivery`): a file whose
    # id is known need not be read to know its bytes are the same
    blobs: Mapping[str, str] = field(default_factory=dict)


def on_disk(root: str, guard: _Guard | None = None) -> Held:
    """The files below `root` (`list_files`), read from disk, never from outside it (`guard`: one
    made for `root` already). Only regular files are read: a named pipe would never answer."""
    files = list_files(root)
    confined = guard or _Guard(root)

    def read(paths: Collection[str]) -> dict[str, bytes]:
        found = {}
        for path in paths:
            if path in files and os.path.isfile(files[path]):
                with open(confined(path), "rb") as fh:
                    found[path] = fh.read()
        return found

    return Held(files, read)


def owned(path: str, prefixes: Sequence[str]) -> bool:
    """Whether a write replaces `path`: it falls under a prefix, and under no `!prefix` (kept as is)."""
    return _compiled(tuple(prefixes)).owns(path)


def owner(prefixes: Sequence[str]) -> Callable[[str], bool]:
    """`owned` for many paths and the same prefixes: compiled once (thousands of apps make
    thousands of prefixes, and every path would hash them all again)."""
    return _compiled(tuple(prefixes)).owns


class _Prefixes:
    """Prefixes as sets of folders (`…/`: a path is under one when its own folder at that depth is
    it, so the cost does not grow with their number) and the few others, tried one by one."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        kept = [p[1:] for p in prefixes if p.startswith("!")]
        given = [p for p in prefixes if not p.startswith("!")]
        self.kept = _Under(kept)
        self.given = _Under(given)

    def owns(self, path: str) -> bool:
        return self.given.holds(path) and not self.kept.holds(path)  # most paths fail the first


class _Under:
    """Whether a path is one of `prefixes` or under one."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        self.folders = frozenset(p for p in prefixes if p.endswith("/"))
        self.depths = sorted({f.count("/") for f in self.folders})  # parts a folder of each has
        self.others = tuple(p for p in prefixes if not p.endswith("/"))

    def holds(self, path: str) -> bool:
        if self.folders:
            if path + "/" in self.folders:  # the folder itself
                return True
            parts = path.split("/")
            for depth in self.depths:
                if depth < len(parts) and "/".join(parts[:depth]) + "/" in self.folders:
                    return True
        return any(path.startswith(p) for p in self.others)


@lru_cache(maxsize=8)
def _compiled(prefixes: tuple[str, ...]) -> _Prefixes:
    return _Prefixes(prefixes)


def owned_among(paths: Collection[str], prefixes: Sequence[str]) -> set[str]:
    """The `paths` a write under `prefixes` replaces (`owned`), found by looking each prefix up
    in the sorted paths: a publish of one app owns a few folders of an environment repo of many
    thousands of files, and need not test each file."""
    ordered = sorted(paths)
    lookup = paths if isinstance(paths, (set, frozenset, dict)) else frozenset(ordered)
    found: set[str] = set()
    for prefix in (p for p in prefixes if not p.startswith("!")):
        if prefix.endswith("/") and prefix[:-1] in lookup:  # a file where the folder should be
            found.add(prefix[:-1])
        for i in range(bisect.bisect_left(ordered, prefix), len(ordered)):
            if not ordered[i].startswith(prefix):
                break
            found.add(ordered[i])
    owns = owner(prefixes)
    return {p for p in found if owns(p)}  # less what a `!prefix` keeps


Same = Callable[[str, bytes], bool]  # whether `path` already holds exactly these bytes


def plan_tree(
    tree: Mapping[str, bytes],
    prefixes: Sequence[str],
    existing: Collection[str],
    same: Same,
    derived: Mapping[str, Callable[[Collection[str]], bytes | None]] | None = None,
    progress: Progress = silent,
) -> WriteResult:
    """What replacing everything under `prefixes` by `tree` changes, given the paths `existing`
    and what they hold (`same`); then each derived file, made from the paths present afterwards.
    Nothing is written: `apply` writes the result to a directory, `gitrepo.commit_files` commits it."""
    owns = owner(prefixes)
    for path in tree:
        if not owns(path):
            raise UsageError(f"render produced {path}, outside the paths it owns")
    derived = derived or {}
    replaced = owned_among(existing, prefixes)
    deleted = [p for p in sorted(replaced) if p not in tree and p not in derived]
    data: dict[str, bytes] = {}
    unchanged = 0
    progress("write", 0, len(tree))
    for done, (path, blob) in enumerate(sorted(tree.items()), start=1):
        if same(path, blob):
            unchanged += 1
        else:
            data[path] = blob
        if done % PROGRESS_EVERY == 0 or done == len(tree):
            progress("write", done, len(tree))
    present = set(tree) | {p for p in existing if p not in replaced}
    for path, make in sorted(derived.items()):
        made = make(present)
        if made is not None and not same(path, made):
            data[path] = made
        elif made is None and path in replaced:
            deleted.append(path)
    return WriteResult(tuple(data), tuple(deleted), unchanged, data)


def apply(root: str, result: WriteResult) -> None:
    """Write a planned change into the directory `root`: each file replaced atomically, deleted
    files removed with the folders they leave empty."""
    for path in result.deleted:
        folder = os.path.dirname(path)
        # the folder confined to `root`; the file itself not resolved: a link is removed, never its target
        full = os.path.join(_Guard(root)(folder) if folder else root, os.path.basename(path))
        os.remove(full)
        _prune(root, os.path.dirname(full))
    guard = _Guard(root)
    made: set[str] = set()  # the folders this write made sure of
    for path, data in result.data.items():
        _write(guard(path), data, made)


def plan_rendered(
    tree: Mapping[str, bytes],
    prefixes: Sequence[str],
    platform: Platform,
    held: Held,
    same: Same,
    progress: Progress = silent,
    record: Sequence[str] = (),
) -> WriteResult:
    """The one way a render becomes a change: owned paths replaced, then the files derived from
    what is present: atlantis.yaml, and each environment's kustomization (`held`: what is present
    before, and where a file not in `tree` is read). `record`: the environments whose record of
    their projects (`PROJECTS`) is kept too: those a publish renders (an environment repo, whose
    `held.blobs` are git's object ids); another environment's record stays as it is, as its
    projects do."""

    def read(paths: Collection[str]) -> Mapping[str, bytes]:
        return {**held.read([p for p in paths if p not in tree]), **{p: tree[p] for p in paths if p in tree}}

    projects = _Projects(tree, held, read, sorted(platform.environments) if record else [])
    derived: dict[str, Callable[[Collection[str]], bytes | None]] = {
        "atlantis.yaml": lambda paths: atlantis_file(projects.modules(paths), platform.environments)
    }
    kustomizations = _Once(env_kustomizations)
    for env in sorted(platform.environments):
        derived[f"kubernetes/{env}/kustomization.yaml"] = partial(kustomizations.get, key=env)
    for env in sorted(set(record) & set(platform.environments)):
        derived[f"{PROJECTS}/{env}.json"] = partial(projects.record, env=env)
    result = plan_tree(tree, prefixes, held.paths, same, derived, progress)
    if result.written and not result.deleted and all(p.startswith(f"{PROJECTS}/") for p in result.written):
        # the record alone (after an Atlantis merge request merged a project it names otherwise)
        # makes no commit: it is brought up to date by the next change
        return WriteResult((), (), result.unchanged + len(result.written))
    return result


def _module_names(value: object) -> tuple[str, ...] | None:
    """`value` as module names, if it is a list of them as `used_modules` gives them."""
    if not isinstance(value, list):
        return None
    names = tuple(m for m in value if isinstance(m, str) and m and "/" not in m)
    return names if list(names) == value == sorted(set(names)) else None


class _Once:
    """`make(present)` worked out once for the paths present after a write (every derived file is
    made from the same ones), then looked up by key."""

    def __init__(self, make: Callable[[Collection[str]], Mapping[str, bytes]]) -> None:
        self._make = make
        self._present: Collection[str] | None = None
        self._made: Mapping[str, bytes] = {}

    def get(self, present: Collection[str], key: str) -> bytes | None:
        if self._present is not present:
            self._present, self._made = present, self._make(present)
        return self._made.get(key)


class _Projects:
    """The Terraform projects present after a write and the modules each calls, worked out once
    for atlantis.yaml and the records (`PROJECTS`). A project whose file has the object id its
    environment's record says is not read: the record says what it calls (a file changed by hand,
    or changed only on an Atlantis branch, has another id, and is read)."""

    def __init__(self, tree: Mapping[str, bytes], held: Held, read: ReadMany, envs: Sequence[str]) -> None:
        self.tree, self.held, self.read = tree, held, read
        self.recorded = _recorded_projects(held, envs)  # every environment's: atlantis.yaml lists all
        self._present: Collection[str] | None = None
        self._modules: dict[str, list[str]] = {}

    def modules(self, present: Collection[str]) -> dict[str, list[str]]:
        """Project folder → the modules it calls, for the paths `present` after the write."""
        if self._present is not present:
            known = {
                folder: modules
                for folder, (blob, modules) in self.recorded.items()
                if f"{folder}/main.tf.json" not in self.tree
                and self.held.blobs.get(f"{folder}/main.tf.json") == blob
            }
            self._present, self._modules = present, project_modules(present, self.read, known)
        return self._modules

    def record(self, present: Collection[str], env: str) -> bytes:
        """`PROJECTS`/<env>.json for the paths `present` after the write."""
        sha256 = len(next(iter(self.held.blobs.values()), "0" * 40)) != 40  # the repo's object format
        projects: dict[str, Json] = {}
        for folder, modules in self.modules(present).items():
            if folder.split("/")[1] != env:
                continue
            path = f"{folder}/main.tf.json"
            blob = blob_id(self.tree[path], sha256) if path in self.tree else self.held.blobs.get(path)
            if blob is not None:  # none: not a regular file (it calls nothing), read every time
                projects[folder.split("/")[2]] = {"blob": blob, "modules": list(modules)}
        return dump_json(
            {"version": PROJECTS_VERSION, "renderer": __version__, "projects": projects}
        ).encode()


def _recorded_projects(held: Held, envs: Sequence[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """What the environments' records (`PROJECTS`) say: project folder → (object id, modules). A
    record that is absent, of another version, written by another renderer version (which may
    read a project's modules otherwise) or damaged says nothing, nor does an entry whose modules
    are not as `used_modules` gives them (sorted, once each, no `/`): their projects are read."""
    files = held.read([f"{PROJECTS}/{env}.json" for env in envs])
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for env in envs:
        try:
            recorded = json.loads(files.get(f"{PROJECTS}/{env}.json", b"null"))
        except (ValueError, RecursionError):
            continue
        if not isinstance(recorded, dict) or recorded.get("version") != PROJECTS_VERSION:
            continue
        if recorded.get("renderer") != __version__:
            continue
        projects = recorded.get("projects")
        for scope, entry in projects.items() if isinstance(projects, dict) else ():
            blob = entry.get("blob") if isinstance(entry, dict) else None
            modules = entry.get("modules") if isinstance(entry, dict) else None
            names = _module_names(modules)
            if isinstance(blob, str) and names is not None:
                out[f"terraform/{env}/{scope}"] = (blob, names)
    return out


def write_rendered(
    root: str, tree: Mapping[str, bytes], prefixes: Sequence[str], platform: Platform
) -> WriteResult:
    """`plan_rendered` against what the directory `root` holds, written there."""
    os.makedirs(root, exist_ok=True)
    guard = _Guard(root)
    held = on_disk(root, guard)

    def same(rel: str, data: bytes) -> bool:
        guard(rel)  # every path is confined while the write is planned: a refusal changes nothing
        return held.read([rel]).get(rel) == data  # a path not listed is not opened: it is written

    result = plan_rendered(tree, prefixes, platform, held, same)
    apply(root, result)
    return result


def _write(full: str, data: bytes, made: set[str] | None = None) -> None:
    """`full` replaced atomically by `data` (mode 0644); `made`: folders known to exist already."""
    folder = os.path.dirname(full)
    if made is None or folder not in made:
        os.makedirs(folder, exist_ok=True)
        if made is not None:
            made.add(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o644)
        fh.write(data)
    os.replace(tmp, full)


def _prune(root: str, directory: str) -> None:
    """Remove directories left empty, never the root itself."""
    stop = os.path.realpath(root)
    while os.path.realpath(directory) != stop and not os.listdir(directory):
        os.rmdir(directory)
        directory = os.path.dirname(directory)
