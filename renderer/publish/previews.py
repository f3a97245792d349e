"""Previews of app merge requests: each one app × merge request, `preview-<app>-<mr>`, one scope of
the platform's one `preview` environment (`environments/<id>.yaml` with `type: preview`).

A preview is published like an app (`delivery.publish`: the same render, checks, owner records,
compare-and-swap push), with its own render step (`render_into`): its inputs are stored under
`.render/previews/<name>/`, never among the apps a platform publish or `impact` re-renders (after
a platform change `--all-apps --env <preview env>` re-renders every stored preview); the
preview environment holds exactly the render of the stored previews (with none, nothing: a preview
published and removed leaves the environment repo as it was); and a preview renders no Terraform
unless the environment file allows it (`preview.terraform`).

A name is `preview-<app>-<mr>` when that is a DNS label shorter than the platform's longest app name;
otherwise `preview-<part of the app>-<hash of app and mr>-<mr>`, exactly that long. The two forms never
meet (different lengths), and app names may not start with `preview-` (trust.yaml reserves it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from renderer import pipeline
from renderer.adapters import gitrepo
from renderer.errors import InputError, PolicyDenied, Problem, UsageError
from renderer.inputs import app_repo
from renderer.model import App, Environment, Limits, Platform, ScoreResource, Trust, Workload, WorkloadSpec
from renderer.publish import bookkeeping, delivery, writer
from renderer.publish.identity import app_name
from renderer.render.terraform import modules_dir
from renderer.render.tree import Tree

PREFIX = "preview-"
STORE = ".render/previews"
HASH_MIN = 12  # hex digits of the hash in a shortened name: collisions stay out of reach
MAX_MR = 10**10 - 1  # a merge request IID of at most 10 digits
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class Settings:
    """The preview environment and its `preview:` block (schema-checked: environment.json)."""

    env: Environment
    ttl: str
    terraform: bool = False


def settings(platform: Platform) -> Settings:
    """The one environment of type `preview`; a usage error when the platform defines none or several."""
    envs = sorted(e.id for e in platform.environments.values() if e.type == pipeline.PREVIEW_TYPE)
    if len(envs) != 1:
        found = ", ".join(envs) or "none"
        raise UsageError(
            f"previews need exactly one environment of type '{pipeline.PREVIEW_TYPE}' in environments/ "
            f"(found: {found})"
        )
    env = platform.environments[envs[0]]
    block = env.doc.data.get("preview") if isinstance(env.doc.data, Mapping) else None
    data = block if isinstance(block, Mapping) else {}
    return Settings(env, str(data.get("ttl", "")), data.get("terraform") is True)


def preview_name(app: str, mr: int, max_length: int) -> str:
    """`preview-<app>-<mr>`, bounded by `max_length` and collision-free (see the module's doc)."""
    if not 1 <= mr <= MAX_MR:
        raise UsageError(f"merge request {mr}: give the merge request's IID (1 to {MAX_MR})")
    tail = f"-{mr}"
    plain = f"{PREFIX}{app}{tail}"
    if _LABEL.fullmatch(app) and len(plain) < max_length:
        return plain
    room = max_length - len(PREFIX) - len(tail)
    if room < HASH_MIN:
        raise UsageError(f"apps.max_name_length {max_length} in trust.yaml leaves no room for preview names")
    digest = hashlib.sha256(f"{app}\0{mr}".encode("utf-8", "surrogateescape")).hexdigest()
    slug = re.sub(r"[^a-z0-9]+", "-", app.lower()).strip("-")[: room - HASH_MIN - 1].strip("-")
    head = f"{slug}-" if slug else ""
    return f"{PREFIX}{head}{digest[: room - len(head)]}{tail}"


def check_selection(platform: Platform, env_ids: Sequence[str]) -> None:
    """A publish that is not a preview never names the preview environment."""
    named = sorted(
        e
        for e in env_ids
        if e in platform.environments and platform.environments[e].type == pipeline.PREVIEW_TYPE
    )
    if named:
        raise UsageError(
            f"--env {named[0]}: the preview environment takes only previews; publish one with --preview MR"
        )


def select(platform: Platform, req: delivery.Request, mr: int | None, remove: int | None) -> delivery.Request:
    """`publish`'s request as it is, or (`--preview MR`, `--remove-preview MR`) that preview's."""
    if mr is not None and remove is not None:
        raise UsageError("--preview and --remove-preview exclude each other")
    if mr is None and remove is None:
        if every_preview(platform, req):
            return dataclasses.replace(req, render_into=render_into)
        check_selection(platform, req.env_ids)
        return req
    return request(platform, req, mr if mr is not None else remove or 0, remove is not None)


def every_preview(platform: Platform, req: delivery.Request) -> bool:
    """`--all-apps --env <preview env>`: every stored preview re-rendered (after a platform change),
    as `--all-apps` re-renders every stored app of the other environments; only the platform may."""
    where = settings(platform) if req.all_apps and req.env_ids else None
    if where is None or where.env.id not in req.env_ids:
        return False
    if len(set(req.env_ids)) != 1 or req.apps or req.remove_apps or req.destroyed:
        raise UsageError(
            f"--all-apps --env {where.env.id} re-renders every stored preview; it takes no other --env, "
            "--app, --remove-app or --destroyed"
        )
    return True


def request(platform: Platform, req: delivery.Request, mr: int, remove: bool) -> delivery.Request:
    """The publish of one app's preview (or its removal) from the app publish `req` would have been."""
    proven = remove and not req.apps and req.identity.how == "gitlab-id-token"
    if (len(req.apps) != 1 and not proven) or req.all_apps or req.remove_apps or req.env_ids or req.destroyed:
        raise UsageError(
            "--preview and --remove-preview take one --app (--remove-preview with an ID token: the app "
            "it proves), and no --env, --all-apps or --remove-app"
        )
    where = settings(platform)
    base = req.apps[0].id if req.apps else app_name(req.identity.owner, platform.trust)
    name = preview_name(base, mr, platform.trust.max_name_length)
    apps = () if remove else (renamed(req.apps[0], name),)
    return dataclasses.replace(
        req,
        apps=apps,
        remove_apps=(name,) if remove else (),
        env_ids=(where.env.id,),
        render_into=render_into,
    )


def renamed(app: App, name: str) -> App:
    """The app under its preview's name (its workloads too: they carry the app they belong to). A
    resource `id` the app shares between its workloads becomes the preview's own (`<name>.<id>`), so
    two previews of one app never claim the same shared resource. Applied as the inputs are loaded
    (the stored files are the app's own)."""
    workloads = tuple(_renamed(w, name) for w in app.workloads)
    variants = {env: tuple(_renamed(w, name) for w in wls) for env, wls in app.variants.items()}
    return dataclasses.replace(app, id=name, workloads=workloads, variants=variants)


def _renamed(workload: Workload, name: str) -> Workload:
    spec = workload.spec
    resources = spec.get("resources")
    if resources:
        owned = {k: _own_id(r, name) for k, r in resources.items()}
        spec = cast(WorkloadSpec, {**spec, "resources": owned})
    return dataclasses.replace(workload, app=name, spec=spec)


def _own_id(resource: ScoreResource, name: str) -> ScoreResource:
    rid = resource.get("id")
    return cast(ScoreResource, {**resource, "id": f"{name}.{rid}"}) if rid else resource


def render_into(
    platform: Platform,
    req: delivery.Request,
    repo: gitrepo.Repo,
    envs: Sequence[Environment],
    owners: bookkeeping.Owners,
) -> tuple[writer.WriteResult, list[str]]:
    """What every stored preview with this one's change makes of the checkout; only this preview's paths
    (`--all-apps --env <preview env>`: every preview's), the preview environment's shared parts and
    the owner records change."""
    root = repo.path
    env_ids = [e.id for e in envs]
    apps, broken = _apps(root, req, platform.trust.limits)
    changing = sorted(apps) if req.all_apps else sorted({a.id for a in req.apps} | set(req.remove_apps))
    prefixes = [*_owned(env_ids, changing), bookkeeping.OWNERS, *_kept(sorted(broken), env_ids)]
    options = pipeline.Options(_images(root, req, apps), req.jobs, req.skip_checks_for_tests, req.sensitive)
    rendered = render(platform, apps, env_ids, options)
    owns = writer.owner(prefixes)
    tree = {p: d for p, d in rendered.tree.items() if owns(p)}
    tree = _without_terraform(tree, env_ids, settings(platform))
    for app_id in changing:
        if app_id in apps:
            tree.update(_store(root, apps[app_id], rendered, req))
    published = [a.id for a in req.apps]
    tree[bookkeeping.OWNERS] = bookkeeping.owners_file(
        owners, req.identity, published, req.remove_apps, rendered
    )
    held = writer.on_disk(root)
    bookkeeping.terraform_tombstones(tree, held, prefixes, req.destroyed)
    warnings = [f"SKIPPED preview '{name}': its stored inputs no longer load" for name in sorted(broken)]
    warnings += [f.render() for f in rendered.report.warnings]
    same = gitrepo.holds(gitrepo.index(root))
    return writer.plan_rendered(tree, prefixes, platform, held, same), warnings


def render(
    platform: Platform, apps: Mapping[str, App], env_ids: Sequence[str], options: pipeline.Options
) -> pipeline.Rendered:
    """The stored previews rendered together (so shared resources see all of them); none: nothing."""
    from renderer.checks.findings import Report  # the checks load with the render, not before

    if not apps:
        return pipeline.Rendered((), {}, (), Report())
    return pipeline.run(
        for_previews(platform, sorted(apps)), tuple(apps[k] for k in sorted(apps)), env_ids, options
    )


def for_previews(platform: Platform, names: Sequence[str]) -> Platform:
    """The platform as previews see it: `preview-*` is no longer reserved (they are those names), and
    each preview is charged to its app's team (trust.yaml lists apps, not their previews)."""
    trust = platform.trust
    reserved = tuple(r for r in trust.reserved_names if r != f"{PREFIX}*")
    bases = {n: base_app(trust, n) for n in names}
    teams = {
        k: dataclasses.replace(t, apps=(*t.apps, *(n for n in names if bases[n] in t.apps)))
        for k, t in trust.teams.items()
    }
    return dataclasses.replace(
        platform, trust=dataclasses.replace(trust, reserved_names=reserved, teams=teams)
    )


def base_app(trust: Trust, name: str) -> str | None:
    """The app a team lists that `name` is the preview of (names are collision-free: at most one);
    None for a preview of an app no team lists (charged, like that app, to the platform team)."""
    mr = name.rpartition("-")[2]
    if not mr.isdigit() or not 1 <= int(mr) <= MAX_MR:
        return None
    listed = sorted({a for t in trust.teams.values() for a in t.apps})
    return next((a for a in listed if preview_name(a, int(mr), trust.max_name_length) == name), None)


def _owned(env_ids: Sequence[str], changing: Sequence[str]) -> list[str]:
    """What an app publish of these names owns, with the previews' store in place of the apps'."""
    apps_store = tuple(f"{bookkeeping.STORE}/{a}/" for a in changing)
    prefixes = [p for p in bookkeeping.owned_prefixes(env_ids, changing, False) if p not in apps_store]
    return prefixes + [f"{STORE}/{a}/" for a in changing]


def _kept(broken: Sequence[str], env_ids: Sequence[str]) -> list[str]:
    kept = [p for p in bookkeeping.kept(broken, env_ids) if not p.startswith(f"!{bookkeeping.STORE}/")]
    return kept + [f"!{STORE}/{a}/" for a in broken]


def _without_terraform(tree: Tree, env_ids: Sequence[str], where: Settings) -> Tree:
    """A preview renders no Terraform (and so needs no modules) unless the platform allows it."""
    if where.terraform:
        return tree
    projects = sorted(
        p
        for p in tree
        for env in env_ids
        if p.startswith(f"terraform/{env}/") and not p.startswith(f"{modules_dir(env)}/")
    )
    if projects:
        raise PolicyDenied(
            "a preview renders no Terraform (preview.terraform is false in "
            f"{where.env.file}); {', '.join(projects)} would be written. Give the preview environment an "
            "in-cluster or static definition of each resource type it asks for, or allow Terraform there",
            [
                Problem(where.env.file, 0, "preview.terraform", f"{p}: Terraform in a preview")
                for p in projects
            ],
        )
    return {p: d for p, d in tree.items() if not any(p.startswith(f"{modules_dir(env)}/") for env in env_ids)}


def _apps(
    root: str, req: delivery.Request, limits: Limits
) -> tuple[dict[str, App], dict[str, list[Problem]]]:
    """The stored previews with this publish's change, and those whose inputs no longer load."""
    return delivery.with_change(*_stored(root, limits), req, "preview")


def _stored(root: str, limits: Limits) -> tuple[dict[str, App], dict[str, list[Problem]]]:
    """The previews stored in the environment repo (read back as untrusted as any app's inputs)."""
    store = os.path.join(root, STORE)
    apps: dict[str, App] = {}
    broken: dict[str, list[Problem]] = {}
    for name in sorted(os.listdir(store)) if os.path.isdir(store) else ():
        try:
            (app,) = app_repo.load_apps([os.path.join(store, name)], root, limits=limits)
        except InputError as exc:
            broken[name] = exc.problems()
            continue
        apps[app.id] = renamed(app, app.id)
    return apps, broken


def _images(root: str, req: delivery.Request, apps: Mapping[str, App]) -> dict[str, str]:
    """This run's `--image` values over those the other stored previews were published with (so a
    re-render of every preview needs none), as `delivery` does for apps."""
    now = {a.id for a in req.apps}
    ours = {wl.name for a in req.apps for wl in a.workloads}
    recorded = bookkeeping.recorded_images(lambda name: bookkeeping.read_index(root, name, STORE), apps, now)
    return {**{k: v for k, v in recorded.items() if k.partition(".")[0] not in ours}, **req.images}


def _store(root: str, app: App, rendered: pipeline.Rendered, req: delivery.Request) -> Tree:
    """The preview's inputs and index, as `bookkeeping.store_inputs` writes an app's, under STORE;
    a preview only re-rendered keeps the images its index recorded."""
    previous = bookkeeping.read_index(root, app.id, STORE)
    images: Mapping[str, str] = req.images
    if app.id not in {a.id for a in req.apps}:
        recorded = previous.get("images")
        kept = recorded.items() if isinstance(recorded, Mapping) else ()
        images = {str(k): v for k, v in kept if isinstance(v, str)}
    key = bookkeeping.DigestKey(req.platform_digest, images)
    stored = bookkeeping.store_inputs(app, rendered, key, previous)
    apps_dir = f"{bookkeeping.STORE}/{app.id}/"
    return {f"{STORE}/{app.id}/{p.removeprefix(apps_dir)}": d for p, d in stored.items()}
