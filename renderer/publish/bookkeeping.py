"""The environment repo's bookkeeping under `.render/`: stored app inputs, their index, and the
rules that keep a publish from harming what it does not own (owned paths, tombstones, mass deletes).

`.render/apps/<app>/` holds the app's inputs as published (Score files, overrides, file sources) and
`index.json` (format in docs/decisions.md): the inputs' digest and the files each environment got.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from renderer import __version__
from renderer.adapters import gitrepo
from renderer.data import Json
from renderer.errors import AccessDenied, InputError, Problem, PublishError, UsageError
from renderer.inputs import app_repo
from renderer.inputs.app_repo import STORED_INDEX
from renderer.inputs.confine import Root
from renderer.inputs.yamlio import dump_json
from renderer.model import App, Limits
from renderer.pipeline import Rendered
from renderer.publish import writer
from renderer.publish.identity import Identity
from renderer.render.terraform import EMPTIED_MODULE, emptied, main_file, modules_dir, project_of
from renderer.render.tree import SHARED, Tree

if TYPE_CHECKING:  # the resolver's: a render loads it, a publish that changes nothing does not
    from renderer.resolve.dependencies import Dependencies, Files

STORE = ".render/apps"
INDEX_VERSION = 6  # 1 (or no `version`): no `depends`, read as "depends on everything";
# 2: no `published` (read as "never published": one render rewrites it) and no `images`;
# 3: no `pins` (read as "no image pinned": a publish with --check-aws records them);
# 4: no `ingress` (read as "nothing recorded": the host check parses the app's Ingress files);
# 5: no `shared` (read as "unknown": a publish of the app renders every shared resource again)
EMPTIED = "emptied by platform-renderer"
MASS_DELETE_SHARE = 0.5
MASS_DELETE_MIN = 10


@dataclass(frozen=True, slots=True)
class DigestKey:
    """What, besides an app's own inputs, its render depends on."""

    platform_digest: str = ""  # hash of platform inputs; empty: never skip a render
    images: Mapping[str, str] = field(default_factory=dict)
    pins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # env → image → digest (one app)


def owned_prefixes(env_ids: Sequence[str], apps: Sequence[str], platform_wide: bool) -> list[str]:
    """A platform-wide publish owns whole environments; an app publish its app, the shared parts and
    the modules of the environments it renders."""
    prefixes: list[str] = []
    if platform_wide:
        prefixes.append(f"{STORE}/")
        # clusters/<env>/renderer/: the entry points (render/kubernetes/entrypoints.py)
        whole = ("kubernetes/{env}/", "terraform/{env}/", "clusters/{env}/renderer/", "catalog/{env}/")
        return prefixes + [p.format(env=env) for env in env_ids for p in whole]
    for env in env_ids:
        prefixes += [
            f"kubernetes/{env}/kustomization.yaml",  # derived from the scopes present after the write
            f"kubernetes/{env}/{SHARED}/",
            f"terraform/{env}/{SHARED}/",
            f"clusters/{env}/renderer/{SHARED}/",  # each scope's entry point
            f"catalog/{env}/{SHARED}/",  # the Backstage catalog (render/catalog.py)
            f"{modules_dir(env)}/",  # the environment's modules: every publish to it owns them
        ]
        prefixes += app_prefixes([env], apps)
    return prefixes + [f"{STORE}/{a}/" for a in apps]


def app_prefixes(env_ids: Sequence[str], apps: Sequence[str]) -> list[str]:
    """The folders that hold the apps' own files in these environments."""
    scoped = (
        "kubernetes/{env}/{a}/",
        "terraform/{env}/{a}/",
        "clusters/{env}/renderer/{a}/",
        "catalog/{env}/{a}/",
    )
    return [p.format(env=env, a=a) for env in env_ids for a in apps for p in scoped]


# (root, app, a key of its folder's files, limits) → what loading it gave
Loaded = dict[tuple[str, str, str, Limits], App | list[Problem]]


def stored_apps(
    repo: gitrepo.Repo,
    limits: Limits,
    loaded: Loaded | None = None,
    replaced: Collection[str] = (),
) -> tuple[dict[str, App], dict[str, list[Problem]]]:
    """The apps stored in the environment repo at the checkout's HEAD, and those whose inputs no
    longer load (with why).

    The inputs are read from git's objects, not the directory (`app_repo.load_listed`: the same
    checks, limits and messages as on disk): a publish does not write thousands of apps' inputs
    to disk to read them back. Each app loads on its own: one app's broken inputs never stop the
    others' publishes. An app whose folder holds the very files (modes and object ids) it held
    when it was loaded into `loaded` is not read again: no input of an app is named after its
    index (`app_repo.STORED_INDEX`), which is left out, so rewriting only the index keeps it. The
    apps named in `replaced` are not read at all: the caller has their new inputs. A folder that
    holds nothing but its index is an app whose inputs no longer load (its output is kept)."""
    root = repo.path
    found = gitrepo.folders(repo, STORE)
    inputs = {
        name: {inner: entry for inner, entry in files.items() if inner != STORED_INDEX}
        for name, files in found.items()
        if name not in replaced
    }
    memo: Loaded = {} if loaded is None else loaded
    if memo and next(iter(memo))[0] != root:  # another clone's (`diff` has one per group): of no use
        memo.clear()
    keys = {name: (root, name, _files_key(files), limits) for name, files in inputs.items()}
    unread = read_inputs(repo, {name: inputs[name] for name in inputs if keys[name] not in memo}, limits)
    apps: dict[str, App] = {}
    broken: dict[str, list[Problem]] = {}
    for name in sorted(inputs):
        if name in unread:
            files = unread[name]
            try:
                memo[keys[name]] = app_repo.load_listed(os.path.join(root, STORE, name), root, files, limits)
            except InputError as exc:
                memo[keys[name]] = exc.problems()
        outcome = memo[keys[name]]
        if isinstance(outcome, list):
            broken[name] = outcome
        else:
            apps[outcome.id] = outcome
    return apps, broken


def read_inputs(
    repo: gitrepo.Repo, folders: Mapping[str, Mapping[str, tuple[str, str, int]]], limits: Limits
) -> dict[str, dict[str, tuple[str, bytes | None]]]:
    """Stored apps' files (`gitrepo.folders`), as `app_repo.load_listed` takes them, read from
    git's objects in one call; a file larger than `limits.file_bytes` is not read (the loader
    refuses it by name, as it refuses it on disk)."""
    listed = {
        f"{STORE}/{name}/{inner}": (mode, oid)
        for name, files in folders.items()
        for inner, (mode, oid, size) in files.items()
        if size <= limits.file_bytes
    }
    data = gitrepo.read_files(repo, "", sorted(listed), listed)
    return {
        name: {inner: (mode, data.get(f"{STORE}/{name}/{inner}")) for inner, (mode, _, _) in files.items()}
        for name, files in folders.items()
    }


def _files_key(files: Mapping[str, tuple[str, str, int]]) -> str:
    """The same key for the very same files: their paths, modes and object ids."""
    lines = sorted(f"{mode} {oid}\t{inner}" for inner, (mode, oid, _) in files.items())
    return hashlib.sha256("\0".join(lines).encode()).hexdigest()


def kept(apps: Sequence[str], env_ids: Sequence[str]) -> list[str]:
    """`!`-prefixes (see `writer.owned`) that leave broken apps' files exactly as they are: neither
    read, nor rewritten, nor deleted, nor emptied."""
    # every folder of theirs: their objects and Terraform, and their catalog entity and entry
    # point too (a platform-wide publish owns whole environments: it deleted those two, and without
    # its entry point Flux removes the app from the cluster)
    return [f"!{STORE}/{a}/" for a in apps] + [f"!{p}" for p in app_prefixes(env_ids, apps)]


def app_inputs(app: App) -> Tree:
    """The app's inputs as the loader read them (confined to its folder), under `.render/apps/<app>/`."""
    return {f"{STORE}/{app.id}/{rel}": data for rel, data in sorted(app.files.items())}


def inputs_digest(key: DigestKey, inputs: Tree) -> str:
    """Everything a render of one app depends on, whichever environments it goes to (those are
    recorded beside it, in `published`); empty when the platform digest is unknown."""
    if not key.platform_digest:
        return ""
    h = hashlib.sha256()
    # pins are not part of it: a publish that resolved digests always renders (delivery._unchanged)
    for part in (__version__, key.platform_digest, json.dumps(dict(key.images), sort_keys=True)):
        h.update(part.encode() + b"\0")
    for path in sorted(inputs):
        h.update(path.encode() + b"\0" + hashlib.sha256(inputs[path]).digest())
    return h.hexdigest()


def index_relpath(app: str, store: str = STORE) -> str:
    """Where an app's `index.json` sits in the environment repo."""
    return f"{store}/{app}/{STORED_INDEX}"


def read_index(root: str, app: str, store: str = STORE) -> dict[str, Json]:
    """The app's `index.json` as stored (any version), or {} when it is missing or unreadable;
    `store`: the folder of records (previews keep theirs apart)."""
    try:
        with open(os.path.join(root, *index_relpath(app, store).split("/")), "rb") as fh:
            return parse_index(fh.read())
    except OSError:
        return {}


def parse_index(data: bytes | None) -> dict[str, Json]:
    """An `index.json`'s bytes as `read_index` reads them: {} when absent or unreadable."""
    try:
        body = json.loads(data) if data is not None else None
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
        return {}
    return body if isinstance(body, dict) else {}


ParsedIndexes = dict[tuple[str, str], dict[str, Json]]  # (path, git's object id) → the index


class Indexes:
    """The stored apps' `index.json`, each read and parsed at most once in a publish (several of
    its steps look at every app's), as `read_index` reads them: through `read` (many files at
    once: a partial checkout leaves them in git's objects, `delivery._on_disk`). `blobs` and
    `memo`: an index whose object id a group of the same run parsed before is not read again
    (`delivery.Carried`). The values are shared: read them, never change them."""

    def __init__(
        self,
        read: writer.ReadMany,
        blobs: Mapping[str, str] | None = None,
        memo: ParsedIndexes | None = None,
        store: str = STORE,
    ) -> None:
        self._read, self._store = read, store
        self._blobs = blobs or {}
        self._memo: ParsedIndexes = {} if memo is None else memo
        self._parsed: dict[str, dict[str, Json]] = {}

    def load(self, apps: Collection[str]) -> None:
        """Read the indexes of `apps` not read yet, in one call."""
        paths: dict[str, str] = {}
        for app in sorted(a for a in set(apps) if a not in self._parsed):
            path = index_relpath(app, self._store)
            known = self._memo.get((path, self._blobs.get(path, "")))
            if known is not None:
                self._parsed[app] = known
            else:
                paths[path] = app
        found = self._read(list(paths)) if paths else {}
        for path, app in paths.items():
            self._parsed[app] = parse_index(found.get(path))
            if path in self._blobs:
                self._memo[(path, self._blobs[path])] = self._parsed[app]

    def get(self, app: str) -> dict[str, Json]:
        if app not in self._parsed:
            self.load([app])
        return self._parsed[app]


def already_published(apps: Sequence[App], key: DigestKey, root: str, env_ids: Sequence[str]) -> bool:
    """Apps whose inputs, platform and renderer match what was last published to every one of
    `env_ids`: no render needed."""
    if not apps:
        return False
    for app in apps:
        digest = inputs_digest(key, app_inputs(app))
        published = read_index(root, app.id).get("published")
        if not digest or not isinstance(published, dict):
            return False
        if any(published.get(env) != digest for env in env_ids):
            return False
    return True


def store_inputs(
    app: App,
    rendered: Rendered,
    key: DigestKey,
    previous: Mapping[str, Json],
    by_scope: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> Tree:
    """The app's Score inputs, so a platform change re-renders it without its repo, and an index.

    `previous`: the index as stored; the environments this publish did not render keep their
    entries, so publishing one environment after another rewrites nothing that did not change."""
    base = f"{STORE}/{app.id}"
    out = app_inputs(app)
    digest = inputs_digest(key, out)
    outputs, depends, published = (_entries(previous, name) for name in ("outputs", "depends", "published"))
    for env in rendered.envs:
        roots = (f"kubernetes/{env.env.id}/{app.id}/", f"terraform/{env.env.id}/{app.id}/")
        if by_scope is not None:  # (env, app) → its files in `rendered.tree`, grouped once for many apps
            outputs[env.env.id] = sorted(by_scope.get((env.env.id, app.id), ()))
        else:
            outputs[env.env.id] = sorted(p for p in rendered.tree if p.startswith(roots))
        depends[env.env.id] = _depends(env.dependencies, app.id)
        published[env.env.id] = digest
    index: dict[str, Json] = {
        "version": INDEX_VERSION,
        "app": app.id,
        "digest": digest,
        "inputs": sorted(p[len(base) + 1 :] for p in out),
        "images": dict(sorted(key.images.items())),
        "outputs": dict(sorted(outputs.items())),
        "depends": dict(sorted(depends.items())),
        "published": dict(sorted(published.items())),
        "pins": _pins(previous, rendered, key),
    }
    out[f"{base}/{STORED_INDEX}"] = dump_json(index).encode()
    return out


def _pins(previous: Mapping[str, Json], rendered: Rendered, key: DigestKey) -> dict[str, Json]:
    """Per environment that pins images, the digests this render used (resolved now, or recorded)."""
    pins = _entries(previous, "pins")
    for env in rendered.envs:
        env_id = env.env.id
        if env.env.pin_images and key.pins.get(env_id):
            pins[env_id] = dict(sorted(key.pins[env_id].items()))
        elif not env.env.pin_images:
            pins.pop(env_id, None)
    return dict(sorted(pins.items()))


def recorded_pins(index: Mapping[str, object]) -> dict[str, dict[str, str]]:
    """An app's recorded digests, env → image → digest ({} before version 4)."""
    out: dict[str, dict[str, str]] = {}
    stored = index.get("pins")
    for env_id, pins in sorted(stored.items()) if isinstance(stored, Mapping) else ():
        if isinstance(pins, Mapping):
            out[env_id] = {str(k): v for k, v in pins.items() if isinstance(v, str)}
    return out


def _entries(index: Mapping[str, Json], name: str) -> dict[str, Json]:
    """One per-environment part of a stored index (`outputs`, `depends`, `published`), or {}."""
    part = index.get(name)
    return {str(k): v for k, v in part.items()} if isinstance(part, Mapping) else {}


def recorded_images(
    index: Callable[[str], Mapping[str, Json]], apps: Mapping[str, App], skip: Collection[str]
) -> dict[str, str]:
    """The `--image` values the stored apps (except `skip`, published now) were last published
    with, so re-rendering them needs no image from this run. A bare image (`""`: every `image: .`)
    is recorded for the app's own workloads, by name, so it reaches no other app."""
    out: dict[str, str] = {}
    for name, app in sorted(apps.items()):
        if name in skip:
            continue
        images = index(name).get("images")
        if not isinstance(images, Mapping):
            continue
        for key, image in sorted(images.items()):
            if not isinstance(image, str):
                continue
            keys = [wl.name for wl in app.workloads] if key == "" else [str(key)]
            for k in keys:
                out.setdefault(k, image)
    return out


def _depends(deps: Dependencies, app: str) -> dict[str, Json]:
    """The platform files the app's render read in one environment, and its part of `_shared`."""
    from renderer.resolve.dependencies import Files

    own, shared = deps.apps.get(app, Files()), deps.shared.get(app, Files())
    return {
        "uses": list(own.uses),
        "candidates": list(own.candidates),
        "shared": {"uses": list(shared.uses), "candidates": list(shared.candidates)},
    }


def recorded_dependencies(body: Mapping[str, Json]) -> dict[str, tuple[Files, Files]] | None:
    """env → (the app's files, its part of `_shared`) as the last publish recorded them in its
    index (`body`); None when the index predates the record (version 1) or cannot be read: then
    the app depends on everything."""
    version, depends = body.get("version", 1), body.get("depends")
    if not isinstance(version, int) or version < 2 or not isinstance(depends, Mapping):
        return None
    out = {}
    for env, item in sorted(depends.items()):
        own = _files(item)
        shared = _files(item.get("shared") if isinstance(item, Mapping) else None)
        if own is None or shared is None:
            return None
        out[env] = (own, shared)
    return out


def _files(item: Json) -> Files | None:
    """One recorded `Files`; None when it is not of the recorded shape."""
    from renderer.resolve.dependencies import Files

    uses = item.get("uses") if isinstance(item, Mapping) else None
    candidates = item.get("candidates") if isinstance(item, Mapping) else None
    if not isinstance(uses, list) or not isinstance(candidates, list):
        return None
    return Files(tuple(str(p) for p in uses), tuple(str(p) for p in candidates))


def terraform_tombstones(
    tree: Tree,
    held: writer.Held,
    prefixes: Sequence[str],
    destroyed: Sequence[str],
) -> None:
    """A Terraform project never vanishes at once: first emptied (Atlantis plans the destroy)."""
    owned = writer.owned_among(held.paths, prefixes)  # a few folders of many thousands of files
    vanishing = {p: project for p in owned if p not in tree and (project := project_of(p))}
    files = held.read(vanishing)
    for path, (env_id, scope) in sorted(vanishing.items()):
        if path not in files:
            raise PublishError(f"{path} is not a regular file; restore it from the repo's history")
        try:
            current = json.loads(files[path])
        except (ValueError, UnicodeDecodeError):
            raise PublishError(f"{path} is not valid JSON; restore it from the repo's history") from None
        if not isinstance(current, dict):
            raise PublishError(f"{path} is not a Terraform project; restore it from the repo's history")
        already_empty = current.get("//") == EMPTIED and _only_emptied_modules(current)
        if f"{env_id}/{scope}" in destroyed:
            if not already_empty:
                raise PublishError(
                    f"{path} still declares resources; it can be removed only after "
                    "an emptied version has been applied"
                )
            continue  # applied: let it go
        tree[path] = dump_json(_tombstone(current, env_id, tree)).encode()
    for item in destroyed:
        _check_destroyed(item, tree, held.paths, prefixes)


def _tombstone(current: Mapping[str, Json], env_id: str, tree: Tree) -> dict[str, Json]:
    """The project emptied: backend and providers kept, and each module that configured its own
    provider called in its emptied variant (same inputs), so the destroy can still reach it."""
    body: dict[str, Json] = {k: v for k, v in current.items() if k in ("terraform", "provider")}
    kept: dict[str, Json] = {}
    blocks = current.get("module")
    for name, block in sorted(blocks.items()) if isinstance(blocks, Mapping) else ():
        source = block.get("source") if isinstance(block, Mapping) else None
        if not isinstance(block, Mapping) or not isinstance(source, str):
            continue
        variant = source if source.endswith(f"/{EMPTIED_MODULE}") else f"{source}/{EMPTIED_MODULE}"
        if variant == source or _variant_file(env_id, variant) in tree:
            kept[name] = {**block, "source": variant}
    if kept:
        body["module"] = kept
    body["//"] = EMPTIED
    return body


def _variant_file(env_id: str, source: str) -> str:
    """The rendered path of an emptied module variant a project in `env_id` calls as `source`."""
    return f"terraform/{env_id}/{source.removeprefix('../')}/main.tf.json"


def _only_emptied_modules(project: Mapping[str, Json]) -> bool:
    blocks = project.get("module")
    if not isinstance(blocks, Mapping):
        return True
    return all(emptied(b) for b in blocks.values())


def _check_destroyed(item: str, tree: Tree, existing: Collection[str], prefixes: Sequence[str]) -> None:
    """`--destroyed ENV/APP` names a project this publish owns and no longer renders: never
    silently ignored (an app publish owns its own projects; `--all-apps` every project)."""
    path = main_file(*item.partition("/")[::2])
    if path not in existing:
        raise UsageError(f"--destroyed {item}: there is no such Terraform project")
    if not writer.owned(path, prefixes):
        raise UsageError(
            f"--destroyed {item}: this publish does not own {path}; name its app with --app or "
            "--remove-app (or, for a removed app's project, publish --all-apps as the platform), "
            "and select its environment with --env"
        )
    if path in tree:
        raise UsageError(f"--destroyed {item}: the app still renders Terraform there; nothing to destroy")


def mass_delete_guard(
    tree: Tree, existing: Collection[str], prefixes: Sequence[str], env_ids: Sequence[str]
) -> None:
    for env in env_ids:
        root = f"kubernetes/{env}/"
        before = [p for p in existing if p.startswith(root)]
        derived = f"{root}kustomization.yaml"  # rewritten from what is present, never just deleted
        gone = [p for p in writer.owned_among(before, prefixes) if p not in tree and p != derived]
        if len(gone) >= MASS_DELETE_MIN and len(gone) > MASS_DELETE_SHARE * len(before):
            raise PublishError(
                f"this publish would delete {len(gone)} of {len(before)} files in "
                f"{root}; pass --allow-mass-delete if that is intended"
            )


# ---- owners: which project owns which app, which app owns which shared resource ------------------

OWNERS = ".render/owners.json"
OWNERS_VERSION = 1


@dataclass(frozen=True, slots=True)
class Owners:
    """`.render/owners.json`: app name → owner (a project path), shared resource uid → app."""

    apps: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, str] = field(default_factory=dict)


def read_owners(root: str) -> Owners:
    repo = Root(root, "")
    if repo.kind(OWNERS) == "missing":
        return Owners()
    try:
        body = json.loads(repo.read(OWNERS))
        if body.get("version") != OWNERS_VERSION:
            raise ValueError(f"version {body.get('version')!r}, expected {OWNERS_VERSION}")
        return Owners(_strings(body["apps"]), _strings(body["resources"]))
    except (InputError, ValueError, RecursionError, KeyError, AttributeError, TypeError) as exc:
        raise PublishError(f"{OWNERS} is damaged ({exc}); restore it from the repo's history") from None


def _strings(data: Mapping[object, object]) -> dict[str, str]:
    return {str(k): str(v) for k, v in data.items()}


def check_ownership(owners: Owners, identity: Identity, changing: Sequence[str], all_apps: bool) -> None:
    """Only an app's recorded owner, or the platform, may publish or remove it."""
    if all_apps and not identity.platform:
        raise AccessDenied(f"only the platform may publish every app; this run is {identity.owner}")
    for name in sorted(changing):
        recorded = owners.apps.get(name)
        if not identity.may_change(recorded):
            raise AccessDenied(
                f"app '{name}' belongs to {recorded}; {identity.owner} ({identity.how}) may not change "
                "or remove it"
            )


def owners_file(
    owners: Owners, identity: Identity, published: Sequence[str], removed: Sequence[str], rendered: Rendered
) -> bytes:
    """The record after this publish: new apps owned by who published them, removed apps gone."""
    from renderer.resolve.graph import owner_of

    apps = {k: v for k, v in owners.apps.items() if k not in removed}
    for name in published:
        apps.setdefault(name, identity.owner)
    resources = {uid: app for uid, app in owners.resources.items() if app in apps}
    for env in rendered.envs:
        for node in env.analysis.graph.nodes.values():
            owner = owner_of(node, owners.resources) if node.shared else None
            if owner is not None and owner in apps:
                resources.setdefault(node.uid, owner)
    body: dict[str, Json] = {
        "version": OWNERS_VERSION,
        "apps": dict(sorted(apps.items())),
        "resources": dict(sorted(resources.items())),
    }
    return dump_json(body).encode()
