"""Render only what a publish can change.

A platform-wide publish (`--all-apps`) renders only the apps whose last render read a platform file
that changed since (or that have no such record, or were rendered by another renderer version): each
app's index records, per environment, a fingerprint of the platform files its render depended on
(`resolve/dependencies.py`), the set of platform file names and the renderer version. The other apps'
files are taken from the checkout as they are, and their index rewritten as a full render would.

A publish of some apps replaces only their scopes and the shared scope (`bookkeeping.owned_prefixes`),
so only those are rendered and checked: every stored app is still resolved (the graph decides the
shared resources, their owners and each app's recorded dependencies), but the other apps' objects are
neither rendered nor checked again (they were when they were published). The checks across apps
compare the new objects with the others' as their last publish wrote them (`elsewhere`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from renderer import __version__
from renderer.checks import collisions
from renderer.data import Json, blob_id
from renderer.inputs import roots
from renderer.inputs.yamlio import YamlLoadError, dump_json, load_generated
from renderer.publish import bookkeeping, writer
from renderer.render.tree import SHARED, StoredShared, Tree

if TYPE_CHECKING:
    from renderer.render.environment import EnvRender
    from renderer.resolve.dependencies import Files

RECORD = "platform"  # in an app's index: env → fingerprint of the platform files its render read
ROUTES = "ingress"  # in an app's index: env → its Ingress files' digests and routes (index version 5)
REQUESTED = "shared"  # in an app's index: env → the shared resources (uids) it requests
READS = "reads"  # in an app's index: env → the shared resources (uids) its render reads (`uses:` too)
REQUESTS_SINCE = 6  # the index version that records them
# in an app's index: env → a digest of its files there as committed, outside Terraform (paths and
# git object ids: `files_digest`), so that a file changed by hand makes it stale (seventh session)
OUTPUT_IDS = "output_ids"


class Prints:
    """The platform's files (path → sha256) and one digest of their names, read once per publish;
    fingerprints are remembered (most apps read the same few files)."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(sorted(files.items()))
        self.names = hashlib.sha256("\0".join(self.files).encode()).hexdigest()
        self._seen: dict[tuple[str, ...], str] = {}

    @classmethod
    def of(cls, root: str) -> Prints:
        return cls(roots.platform_files(root))

    def fingerprint(self, own: Files, shared: Files) -> str:
        """The renderer version, the platform's file names, and the content of every recorded file
        (a folder, `…/`: of every file below it; a file that is gone: `-`)."""
        entries = tuple(sorted({*own.uses, *own.candidates, *shared.uses, *shared.candidates}))
        if entries not in self._seen:
            h = hashlib.sha256(f"{__version__}\0{self.names}\0".encode())
            for entry in entries:
                h.update(f"{entry}\0{self._digest(entry)}\0".encode())
            self._seen[entries] = h.hexdigest()
        return self._seen[entries]

    def _digest(self, entry: str) -> str:
        if not entry.endswith("/"):
            return self.files.get(entry, "-")
        below = [f"{p}={d}" for p, d in self.files.items() if p.startswith(entry)]
        return hashlib.sha256("\n".join(below).encode()).hexdigest() if below else "-"


def focus(changing: Collection[str], stored: Collection[str], platform_wide: bool) -> frozenset[str] | None:
    """The apps to render: those this publish changes (that still exist); None: every app."""
    if platform_wide:
        return None
    return frozenset(changing) & frozenset(stored)


# app → (its index's digest before this run, the digest an earlier delivery group of this run
# stored it with): that group re-stored it without rendering it in the later groups' environments
Restored = Mapping[str, tuple[str, str]]


def stale(
    indexes: bookkeeping.Indexes,
    existing: Collection[str],
    apps: Collection[str],
    env_ids: Sequence[str],
    prints: Prints,
    restored: Restored | None = None,
    blobs: Mapping[str, str] | None = None,
) -> frozenset[str]:
    """The apps a platform-wide publish must render again: a recorded platform file (or the set of
    files, or the renderer) changed since their last render in one of `env_ids`, nothing says, the
    checkout does not hold exactly the files the render recorded (a Terraform change still
    waiting on its Atlantis branch, a file added or removed by hand), a file outside Terraform is
    not the one its last publish committed (changed by hand: `OUTPUT_IDS`, compared with `blobs`,
    the checkout's object ids; not compared without them), or the app's stored inputs are not
    those of its render there (published to another environment only): a publish records every
    app it owns as published with its stored inputs, so it must have rendered them."""
    held = _held(existing, env_ids)
    files = app_files(existing, env_ids)
    out = set()
    indexes.load(apps)
    for app in apps:
        index = indexes.get(app)
        recorded, outputs = index.get(RECORD), index.get("outputs")
        committed = index.get(OUTPUT_IDS)
        committed = committed if isinstance(committed, Mapping) else {}
        depends = bookkeeping.recorded_dependencies(index)
        if not isinstance(recorded, Mapping) or not isinstance(outputs, Mapping) or depends is None:
            out.add(app)
            continue
        for env_id in env_ids:
            if (
                env_id not in depends
                or recorded.get(env_id) != prints.fingerprint(*depends[env_id])
                or outputs.get(env_id) != sorted(held.get((env_id, app), ()))
                or (
                    blobs is not None
                    and _changed_by_hand(committed.get(env_id), files.get((env_id, app), ()), blobs)
                )
                or _ahead_of_render(index, env_id, restored or {})
            ):
                out.add(app)
                break
    return frozenset(out)


def app_files(paths: Iterable[str], env_ids: Collection[str]) -> dict[tuple[str, str], list[str]]:
    """(env, app) → the app's files among these paths, outside Terraform (which main holds as
    Atlantis applied it, not as rendered): its Kubernetes objects, its catalog entities and its
    entry point (`bookkeeping.app_prefixes`)."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in paths:
        parts = path.split("/", 4)
        if parts[0] in ("kubernetes", "catalog") and len(parts) > 3:
            env, app = parts[1], parts[2]
        elif parts[0] == "clusters" and len(parts) > 4 and parts[2] == "renderer":
            env, app = parts[1], parts[3]
        else:
            continue
        if env in env_ids and app != SHARED:
            out.setdefault((env, app), []).append(path)
    return out


def files_digest(paths: Iterable[str], object_id: Callable[[str], str | None]) -> str:
    """A digest of files by path and git object id (none: not a regular file)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path}\0{object_id(path) or ''}\n".encode())
    return digest.hexdigest()


def output_ids(
    tree: Tree, held: writer.Held, env_ids: Sequence[str], rendered: Collection[str], kept: Collection[str]
) -> dict[tuple[str, str], str]:
    """(env, app) → `files_digest` of the app's files as this publish commits them: a `rendered`
    app's from the tree it writes, a `kept` one's (left as it is) from the checkout's object ids."""
    sha256 = len(next(iter(held.blobs.values()), "0" * 40)) != 40  # the repo's object format
    ids: dict[str, str] = {}

    def written(path: str) -> str | None:
        if path not in ids:
            ids[path] = blob_id(tree[path], sha256)
        return ids[path]

    out = {}
    for scope, paths in app_files(tree, env_ids).items():
        if scope[1] in rendered:
            out[scope] = files_digest(paths, written)
    for scope, paths in app_files(held.paths, env_ids).items() if kept else ():
        if scope[1] in kept:
            out[scope] = files_digest(paths, held.blobs.get)
    nothing = files_digest((), held.blobs.get)  # an app with no file in an environment
    return {(env, app): out.get((env, app), nothing) for env in env_ids for app in (*rendered, *kept)}


def _changed_by_hand(recorded: Json, paths: Collection[str], blobs: Mapping[str, str]) -> bool:
    """Whether an app's files outside Terraform may not be those its last publish committed, as its
    index's `OUTPUT_IDS` records them. Without the record (an index written before it) nothing
    says they are: rendered once, the app's files are put back and recorded."""
    return not isinstance(recorded, str) or recorded != files_digest(paths, blobs.get)


def _held(
    existing: Collection[str], env_ids: Sequence[str] | None = None
) -> dict[tuple[str, str], list[str]]:
    """(env, app) → the app's Kubernetes and Terraform files among these paths (what an index's
    `outputs` lists); `env_ids`: only these environments (None: all)."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in existing:
        parts = path.split("/", 3)
        mine = parts[0] in ("kubernetes", "terraform") and len(parts) == 4
        if mine and (env_ids is None or parts[1] in env_ids):
            out.setdefault((parts[1], parts[2]), []).append(path)
    return out


def by_scope(tree: Collection[str]) -> dict[tuple[str, str], list[str]]:
    """(env, app) → the app's Kubernetes and Terraform files in a rendered tree, for its index."""
    return _held(tree)


def outputs_of(existing: Collection[str], env_ids: Sequence[str], apps: Collection[str]) -> list[str]:
    """The files of `apps` in these environments among the paths that exist (their indexes list
    their Kubernetes and Terraform files: `by_scope`)."""
    if not apps:  # an app's publish keeps no app's files: no need to walk every path
        return []
    wanted = set(apps)
    return [path for (_, app), paths in _held(existing, env_ids).items() if app in wanted for path in paths]


# env → `REQUESTED` or `READS` → app → the shared uids it requests, or its render reads
Requests = Mapping[str, Mapping[str, Mapping[str, list[str]]]]


def requests(envs: Sequence[EnvRender]) -> Requests:
    """What `record` writes of each app's shared requests and reads, worked out once per environment."""
    from renderer.resolve import graph as graphs  # the resolver's: loaded by a render, not before

    return {
        env.env.id: {REQUESTED: graphs.shared_by_app(env.analysis.graph), READS: env.reads} for env in envs
    }


def record(
    tree: Tree,
    app: str,
    previous: Mapping[str, Json],
    envs: Sequence[EnvRender],
    prints: Prints,
    shared: Requests,
    committed: Mapping[tuple[str, str], str],
) -> None:
    """Add to the app's index in `tree` the fingerprint of what this render read, per environment
    (the environments not rendered now keep theirs), its routes, its shared requests and what
    its render read of the shared scope (`shared`: `requests(envs)`), and the digest of its files
    as this publish commits them (`committed`: `output_ids`)."""
    from renderer.resolve.dependencies import Files

    path = f"{bookkeeping.STORE}/{app}/index.json"
    index = json.loads(tree[path])
    before = previous.get(RECORD)
    prints_by_env: dict[str, Json] = dict(before) if isinstance(before, Mapping) else {}
    for env in envs:
        deps = env.dependencies
        prints_by_env[env.env.id] = prints.fingerprint(
            deps.apps.get(app, Files()), deps.shared.get(app, Files())
        )
    index[RECORD] = dict(sorted(prints_by_env.items()))
    index[ROUTES] = _routes(app, previous.get(ROUTES), envs)
    for key in (REQUESTED, READS):
        before = previous.get(key)
        recorded: dict[str, Json] = dict(before) if isinstance(before, Mapping) else {}
        for env in envs:
            recorded[env.env.id] = list(shared[env.env.id][key].get(app, []))
        index[key] = dict(sorted(recorded.items()))
    before = previous.get(OUTPUT_IDS)
    ids: dict[str, Json] = dict(before) if isinstance(before, Mapping) else {}
    ids.update({env.env.id: committed[(env.env.id, app)] for env in envs})
    index[OUTPUT_IDS] = dict(sorted(ids.items()))
    tree[path] = dump_json(index).encode()


def stored_shared(
    held: writer.Held,
    env_ids: Sequence[str],
    rendered: frozenset[str] | None,
    loaded: Collection[str],
    indexes: bookkeeping.Indexes | None = None,
    restored: Restored | None = None,
    removed: Collection[str] = (),
) -> dict[str, StoredShared]:
    """Per environment, its shared scope as stored, for a render of the `rendered` apps that keeps
    the shared resources they cannot change (`render/environment.py`). None when every app is
    rendered. What the rendered apps requested at their last render counts as a change, and so
    does what an app that no longer loads (not in `loaded`) or that this publish `removed`
    requested. An app not rendered whose stored inputs are newer than its render in the
    environment (published to another environment only, a protected environment's merge request
    not merged yet, a rollback) is `newer`: its objects there stay as they are, and so does what
    they read. None for an environment where one of those has an index without the record (an
    older index, a damaged one), and for every environment where an app not rendered has stored
    inputs but no index (a folder changed by hand): the whole shared scope is rendered, and every
    app's Score files checked, as before the record. An app rendered now without an index is new:
    it requested nothing. What the apps not rendered whose objects here are not those their stored
    inputs give (newer, or no longer loading) read at their render here is `held`: the render keeps
    what of it no app requests now, as stored, while those objects read it. The apps `removed`
    hold nothing."""
    from renderer.render.catalog import catalog_file
    from renderer.render.terraform import live_blocks, main_file

    if rendered is None:
        return {}
    indexes = bookkeeping.Indexes(held.read) if indexes is None else indexes  # a publish passes its own
    stored = sorted(p.split("/")[-2] for p in held.paths if _is_index(p))
    if any(app not in rendered for app in set(loaded) - set(stored)):
        return {}
    catalogs = {env_id: catalog_file(env_id, SHARED) for env_id in env_ids}
    texts = dict(held.read([p for p in catalogs.values() if p in held.paths]))
    indexes.load(stored)
    requested: dict[str, set[str]] = {env_id: set() for env_id in env_ids}
    newer: dict[str, set[str]] = {env_id: set() for env_id in env_ids}
    holders: dict[str, dict[str, list[str]]] = {env_id: {} for env_id in env_ids}  # uid → apps
    asked: dict[str, dict[str, list[str]]] = {env_id: {} for env_id in env_ids}  # uid → apps
    for app in stored:
        index = indexes.get(app)
        by_env = _recorded_requests(index, env_ids)
        reads = _recorded_requests(index, env_ids, READS) if app not in rendered else {}
        for env_id in env_ids:
            gone = app in rendered or app in removed  # its objects here are replaced or removed
            ahead = not gone and _ahead_of_render(index, env_id, restored or {})
            if not gone and app in loaded and not ahead:
                continue  # rendered here from the inputs it has: it changes nothing
            if env_id not in by_env:
                requested.pop(env_id, None)
            elif env_id in requested:
                if ahead:  # what it requests stays as its render here left it
                    newer[env_id].add(app)
                else:  # rendered, removed or no longer loading: what it requested may change
                    requested[env_id].update(by_env[env_id])
                for uid in by_env[env_id]:
                    asked[env_id].setdefault(uid, []).append(app)
                if not gone:  # its objects here stay as they are, and read what they read
                    for uid in reads.get(env_id, by_env[env_id]):  # an older index: its requests
                        holders[env_id].setdefault(uid, []).append(app)
    paths: dict[str, list[str]] = {env_id: [] for env_id in requested}
    for path in held.paths:  # kubernetes/<env>/_shared/…
        parts = path.split("/", 3)
        if len(parts) == 4 and parts[0] == "kubernetes" and parts[2] == SHARED and parts[1] in paths:
            paths[parts[1]].append(path)
    projects = {env_id: main_file(env_id, SHARED) for env_id in requested if holders[env_id]}
    texts.update(held.read([p for p in projects.values() if p in held.paths]))
    return {
        env_id: StoredShared(
            frozenset(uids),
            tuple(sorted(paths[env_id])),
            texts.get(catalogs[env_id]),
            frozenset(newer[env_id]),
            {uid: tuple(apps) for uid, apps in sorted(holders[env_id].items())},
            live_blocks(texts.get(projects[env_id])) if env_id in projects else {},
            {uid: tuple(apps) for uid, apps in sorted(asked[env_id].items())},
        )
        for env_id, uids in sorted(requested.items())
    }


def _is_index(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 4 and f"{parts[0]}/{parts[1]}" == bookkeeping.STORE and parts[3] == "index.json"


def _ahead_of_render(index: Json, env_id: str, restored: Restored) -> bool:
    """Whether the app's stored inputs are not those its render in `env_id` came from (or the
    index cannot say). An app an earlier group of this run re-stored (`restored`), and nobody
    since, is judged by the digest it had before: re-storing it with this run's platform digest
    did not make its inputs newer than its render here."""
    published = index.get("published") if isinstance(index, dict) else None
    digest = index.get("digest") if isinstance(index, dict) else None
    if not isinstance(published, dict) or not isinstance(digest, str):
        return True
    app = index.get("app") if isinstance(index, dict) else None
    if isinstance(app, str) and app in restored:
        before, written = restored[app]
        if digest == written:  # rendered here before this run, or with the digest it now has
            return published.get(env_id) not in (before, digest)
    return published.get(env_id) != digest


def _recorded_requests(index: Json, env_ids: Sequence[str], key: str = REQUESTED) -> dict[str, list[str]]:
    """An index's record of the shared resources its app requested (`key`: or its render read):
    env → uids; an environment the app was never rendered in (an index of version 6 or later
    without its fingerprint) has none. Anything else not of the recorded shape (an older index, a
    damaged one, an index written before `READS`) is left out: unknown."""
    if not isinstance(index, dict) or not isinstance(index.get(key), dict):
        return {}
    by_env, prints, version = index[key], index.get(RECORD), index.get("version")
    out: dict[str, list[str]] = {}
    for env_id in env_ids:
        uids = by_env.get(env_id)
        if uids is None and isinstance(prints, dict) and env_id not in prints and isinstance(version, int):
            uids = [] if version >= REQUESTS_SINCE else None
        if isinstance(uids, list) and all(isinstance(u, str) for u in uids):
            out[env_id] = uids
    return out


def _routes(app: str, before: Json, envs: Sequence[EnvRender]) -> dict[str, Json]:
    """The app's Ingress files per environment, each with its bytes' digests and its routes; the
    environments it was not rendered in now keep theirs (the digests say whether they still hold)."""
    out: dict[str, Json] = dict(before) if isinstance(before, Mapping) else {}
    for env in envs:
        if app in env.routes:
            out[env.env.id] = {
                path: {"sha256": digest, "blob": blob, "routes": [list(route) for route in routes]}
                for path, (digest, blob, routes) in sorted(env.routes[app].items())
            }
    return dict(sorted(out.items()))


Parsed = dict[tuple[str, bytes], list[Json]]  # (path, sha-256 of its bytes) → its documents


def elsewhere(
    held: writer.Held,
    env_ids: Sequence[str],
    rendered: frozenset[str] | None,
    parsed: Parsed | None = None,
    indexes: bookkeeping.Indexes | None = None,
) -> dict[str, tuple[tuple[str, Json], ...]]:
    """Per environment, the Ingress objects the checkout holds for apps outside `rendered` and for
    the shared scope (none when every app is rendered): what the host-and-path collision check
    needs of them (the render drops the shared resources it renders again: `pipeline`). A file
    whose bytes still have the digest its app's index records is not parsed: the recorded routes
    stand in for it (`collisions.stand_in`). `parsed`: files parsed before, by path and bytes (a
    protected environment's group parses the same files its render ahead did)."""
    if rendered is None:
        return {}
    wanted: dict[str, list[str]] = {env_id: [] for env_id in env_ids}
    apps: set[str] = set()
    for path in held.paths:  # kubernetes/<env>/<app>/<folder>/ingress-*.yaml
        app = collisions.ingress_file(path, wanted)
        if app is not None and app not in rendered:
            wanted[path.split("/", 2)[1]].append(path)
            apps.add(app)
    others = sorted(apps - {SHARED})
    indexes = bookkeeping.Indexes(held.read) if indexes is None else indexes
    indexes.load(others)
    recorded = {app: _recorded_routes(indexes.get(app)) for app in others}
    recorded[SHARED] = {}  # the shared scope has no index: its few Ingress files are parsed

    def record(env_id: str, path: str) -> _Recorded | None:
        return recorded[path.split("/", 3)[2]].get(env_id, {}).get(path)

    # a file whose git object id is the recorded one holds the recorded bytes: it is not even read
    unread = {
        path
        for env_id, paths in wanted.items()
        for path in paths
        if (entry := record(env_id, path)) is not None and entry.blob and held.blobs.get(path) == entry.blob
    }
    texts = held.read([p for paths in wanted.values() for p in paths if p not in unread])
    memo: Parsed = {} if parsed is None else parsed
    out: dict[str, tuple[tuple[str, Json], ...]] = {}
    for env_id, paths in wanted.items():
        found: list[tuple[str, Json]] = []
        for path in sorted(p for p in paths if p in texts or p in unread):
            entry = record(env_id, path)
            digest = hashlib.sha256(texts[path]).digest() if path not in unread else b""
            if entry is not None and (path in unread or entry.sha256 == digest.hex()):
                found.append((path, collisions.stand_in(entry.routes)))
                continue
            key = (path, digest)
            if key not in memo:
                memo[key] = _objects(texts[path], path)
            found += [(path, doc) for doc in memo[key]]
        out[env_id] = tuple(found)
    return out


class _Recorded(NamedTuple):
    """One Ingress file as its app's index records it."""

    sha256: str
    blob: str  # git's object id of the same bytes; "" in an index written before it was recorded
    routes: list[tuple[str, str]]


def _recorded_routes(index: Mapping[str, Json]) -> dict[str, dict[str, _Recorded]]:
    """An index's recorded Ingress files: env → path → what it records. Anything not of the
    recorded shape (an older index, a damaged one) is left out: those files are parsed."""
    by_env = index.get(ROUTES)
    out: dict[str, dict[str, _Recorded]] = {}
    for env_id, files in by_env.items() if isinstance(by_env, dict) else ():
        for path, entry in files.items() if isinstance(files, dict) else ():
            digest = entry.get("sha256") if isinstance(entry, dict) else None
            blob = entry.get("blob", "") if isinstance(entry, dict) else None
            routes = entry.get("routes") if isinstance(entry, dict) else None
            if not isinstance(digest, str) or not isinstance(blob, str) or not isinstance(routes, list):
                continue
            pairs = [(r[0], r[1]) for r in routes if isinstance(r, list) and len(r) == 2]
            if len(pairs) == len(routes) and all(isinstance(x, str) for r in pairs for x in r):
                out.setdefault(env_id, {})[path] = _Recorded(digest, blob, pairs)
    return out


def _objects(data: bytes, rel: str) -> list[Json]:
    """The documents of one file the renderer wrote; one that no longer parses counts as none
    (it is replaced or reported by the publish that owns it)."""
    try:
        return [d for d in load_generated(data.decode("utf-8"), rel) if isinstance(d, Mapping)]
    except (UnicodeDecodeError, YamlLoadError):
        return []
