"""A platform-wide render split across machines: `publish --shard I/N` checks a deterministic subset of
the stored apps and records what it rendered in a manifest; `publish --merge-shards DIR` renders the
whole graph once more without the costly checks, proves every app's files equal what a shard
checked, and commits the one tree an unsharded publish would have made (format and reasons in
docs/decisions.md, "Sharded platform renders"; the manifest: publish/shard_manifest.py).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial

from renderer import pipeline
from renderer.adapters import gitrepo
from renderer.checks import collisions, findings, secrets
from renderer.checks.findings import Finding, Report
from renderer.checks.secrets import sensitive_values
from renderer.errors import InputError, Problem, UsageError
from renderer.model import App, Platform
from renderer.publish import bookkeeping
from renderer.publish.delivery import Request, Run
from renderer.publish.shard_manifest import (
    MAX_SHARDS,
    Manifest,
    app_prefixes,
    member,
    parse_spec,
    read_manifests,
    write_manifest,
)

__all__ = ["MAX_SHARDS", "Manifest", "member", "parse_spec", "read_manifests", "write_manifest"]


def app_digest(app: App) -> str:
    """The app's stored inputs, as one hash."""
    h = hashlib.sha256()
    for path, data in sorted(bookkeeping.app_inputs(app).items()):
        h.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def app_files(tree: Mapping[str, bytes], app_id: str, env_ids: Sequence[str]) -> dict[str, str]:
    """Path → sha256 of the app's own files in the tree."""
    prefixes = app_prefixes(app_id, env_ids)
    return {p: hashlib.sha256(d).hexdigest() for p, d in sorted(tree.items()) if p.startswith(prefixes)}


def render_shard(
    platform: Platform, req: Request, environ: Mapping[str, str], index: int, total: int
) -> Manifest:
    """Check this shard's apps (schemas, policies, the secret scan: what a publish runs) against the
    environment repo's main head; nothing is pushed."""
    envs = [e.id for e in pipeline.select_envs(platform, list(req.env_ids) or None)]
    with tempfile.TemporaryDirectory(prefix="renderer-shard-") as tmp:
        repo = gitrepo.open_clone(
            req.url, os.path.join(tmp, "clone"), "main", environ, sensitive_values(environ), req.git_timeout
        )
        gitrepo.fetch(repo, "main")
        owners = bookkeeping.read_owners(repo.path)
        stored, _broken = bookkeeping.stored_apps(repo, platform.trust.limits)
        apps = {k: v for k, v in stored.items() if member(k, index, total)}
        options = pipeline.Options(
            {
                **bookkeeping.recorded_images(partial(bookkeeping.read_index, repo.path), stored, ()),
                **req.images,
            },
            req.jobs,
            req.skip_checks_for_tests,
            req.sensitive,
            owners.resources,
            dict(owners.apps),
            pins=_recorded_pins(repo.path, apps),
        )
        rendered = pipeline.run(platform, [apps[k] for k in sorted(apps)], envs, options, req.progress)
    return Manifest(
        index,
        total,
        req.platform_digest,
        tuple(sorted(envs)),
        {k: (app_digest(apps[k]), app_files(rendered.tree, k, envs)) for k in sorted(apps)},
        tuple(rendered.report.warnings),
    )


def _recorded_pins(root: str, apps: Mapping[str, App]) -> dict[str, dict[str, Mapping[str, str]]]:
    out: dict[str, dict[str, Mapping[str, str]]] = {}
    for name in sorted(apps):
        pins = bookkeeping.recorded_pins(bookkeeping.read_index(root, name))
        if pins:
            out[name] = dict(pins)
    return out


def merged(manifests: Sequence[Manifest], platform_digest: str) -> Run:
    """The render step of a merge: the whole graph without the per-file checks the shards ran, the
    checks again in-process for apps whose stored inputs changed since, and a refusal unless every
    app's files are exactly those a shard checked."""

    def run(
        platform: Platform,
        apps: Sequence[App],
        env_ids: Sequence[str] | None,
        options: pipeline.Options,
        progress: pipeline.Progress,
    ) -> pipeline.Rendered:
        ids = [e.id for e in pipeline.select_envs(platform, env_ids)]
        covered = _covered(manifests, platform_digest, apps, ids)
        unchecked = replace(options, skip_checks_for_tests=True)
        rendered = pipeline.run(platform, apps, ids, unchecked, progress)
        stale = [a for a in apps if a.id not in covered]
        report = Report()
        if stale and not options.skip_checks_for_tests:
            report = pipeline.run(platform, stale, ids, options, progress).report
        _verify(rendered, covered, ids)
        if not options.skip_checks_for_tests:
            _across_apps(report, rendered, options)
        report.findings = _warnings([*(f for m in manifests for f in m.warnings), *report.warnings], ids)
        return replace(rendered, report=report)

    return run


def _covered(
    manifests: Sequence[Manifest], platform_digest: str, apps: Sequence[App], ids: Sequence[str]
) -> dict[str, Mapping[str, str]]:
    """App → the file hashes a shard checked, for every app whose stored inputs are those the shard
    rendered; refused when the shards rendered another platform or fewer environments."""
    for m in manifests:
        if m.platform_digest != platform_digest:
            raise UsageError(
                f"shard {m.index}/{m.total} rendered another platform-config "
                f"({m.platform_digest[:12] or 'unknown'}, this run {platform_digest[:12] or 'unknown'}); "
                "run the pipeline again"
            )
        lacking = sorted(set(ids) - set(m.envs))
        if lacking:
            raise UsageError(
                f"shard {m.index}/{m.total} did not render {', '.join(lacking)}; run the pipeline again"
            )
    checked = {k: v for m in manifests for k, v in m.apps.items()}
    out: dict[str, Mapping[str, str]] = {}
    for app in apps:
        entry = checked.get(app.id)
        if entry is not None and entry[0] == app_digest(app):
            prefixes = app_prefixes(app.id, ids)
            out[app.id] = {p: h for p, h in entry[1].items() if p.startswith(prefixes)}
    return out


def _verify(
    rendered: pipeline.Rendered, covered: Mapping[str, Mapping[str, str]], ids: Sequence[str]
) -> None:
    """Every covered app's files, as rendered now, are byte for byte those its shard checked."""
    problems = []
    for app_id, files in sorted(covered.items()):
        now = app_files(rendered.tree, app_id, ids)
        if now != files:
            differ = sorted(set(now) ^ set(files) | {p for p in now if p in files and now[p] != files[p]})
            problems.append(
                Problem(
                    app_id,
                    0,
                    "",
                    f"renders differently from what its shard checked "
                    f"({len(differ)} files, first {differ[0]})",
                    "run the pipeline again (the shards and this job must run the same renderer and inputs)",
                )
            )
    if problems:
        raise InputError(problems)


def _across_apps(report: Report, rendered: pipeline.Rendered, options: pipeline.Options) -> None:
    """What no shard could see, on the whole render: two apps claiming one Ingress host and path,
    and this job's own credentials anywhere in the tree; refused as an unsharded publish refuses."""
    for env in rendered.envs:
        report.conflicts += collisions.ingress_collisions(sorted(env.documents.items()), options.app_owners)
        report.secrets += secrets.scan_tree(env.tree, options.sensitive)
    findings.enforce(report)


def _warnings(found: Sequence[Finding], ids: Sequence[str]) -> list[Finding]:
    """The shards' warnings for these environments, once each (a shared object's came from every
    shard that rendered it), in a stable order."""
    order = {env: i for i, env in enumerate(ids)}
    unique = {_warning_key(f): f for f in found if f.env in order}
    return [unique[k] for k in sorted(unique, key=lambda k: (order[k[0]], k))]


def _warning_key(f: Finding) -> tuple[str, ...]:
    r = f.result
    return (
        f.env,
        r.path,
        f.policy_set,
        r.namespace,
        r.rule,
        r.kind,
        r.message,
        f.object,
        f.source,
        str(f.line),
    )
