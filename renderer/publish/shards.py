"""A platform-wide render split across machines: `publish --shard I/N` checks a deterministic subset of
the stored apps and records what it rendered in a manifest; `publish --merge-shards DIR` renders the
whole graph once more without the costly checks, proves every app's files equal what a shard
checked, and commits the one tree an unsharded publish would have made (format and reasons in
docs/decisions.md, "Sharded platform renders").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import jsonschema

from renderer import __version__, pipeline
from renderer.adapters import gitrepo
from renderer.checks import collisions
from renderer.checks.findings import Finding, Report
from renderer.checks.rego.policyset import Result
from renderer.checks.secrets import sensitive_values
from renderer.errors import InputError, Problem, UsageError
from renderer.model import App, Platform
from renderer.publish import bookkeeping
from renderer.publish.delivery import Request, Run

VERSION = 1
MAX_SHARDS = 256
MAX_MANIFEST = 64 * 1024 * 1024  # bytes: one manifest names every file of its apps, nothing more
NAME = re.compile(r"^shard-([0-9]{1,3})-of-([0-9]{1,3})\.json$")
_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_TEXT = {"type": "string", "maxLength": 65536}
WARNING_FIELDS = (
    "env",
    "policy_set",
    "mode",
    "namespace",
    "rule",
    "kind",
    "message",
    "path",
    "object",
    "source",
)
_WARNING = {
    "type": "object",
    "additionalProperties": False,
    "required": [*WARNING_FIELDS, "line"],
    "properties": {**{k: _TEXT for k in WARNING_FIELDS}, "line": {"type": "integer", "minimum": 0}},
}
SCHEMA: Mapping[str, object] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "renderer", "index", "total", "platform_digest", "envs", "apps", "warnings"],
    "properties": {
        "version": {"const": VERSION},
        "renderer": {"type": "string", "maxLength": 64},
        "index": {"type": "integer", "minimum": 1, "maximum": MAX_SHARDS},
        "total": {"type": "integer", "minimum": 1, "maximum": MAX_SHARDS},
        "platform_digest": {"type": "string", "maxLength": 128},
        "envs": {"type": "array", "items": {"type": "string", "maxLength": 128}, "maxItems": 1000},
        "warnings": {"type": "array", "maxItems": 100000, "items": _WARNING},
        "apps": {
            "type": "object",
            "propertyNames": {"maxLength": 128},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["digest", "files"],
                "properties": {
                    "digest": _HEX,
                    "files": {
                        "type": "object",
                        "propertyNames": {"maxLength": 1024},
                        "additionalProperties": _HEX,
                    },
                },
            },
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@dataclass(frozen=True, slots=True)
class Manifest:
    """What one shard checked: per app, its stored inputs' digest and the hash of every file it got."""

    index: int
    total: int
    platform_digest: str
    envs: tuple[str, ...]
    apps: Mapping[str, tuple[str, Mapping[str, str]]]  # app → (inputs digest, path → sha256)
    warnings: tuple[Finding, ...] = ()  # the policies' warnings, for the merge request and the log

    @property
    def file_name(self) -> str:
        return f"shard-{self.index}-of-{self.total}.json"


def parse_spec(text: str) -> tuple[int, int]:
    """`I/N` (GitLab's CI_NODE_INDEX/CI_NODE_TOTAL): shard I of N, 1 ≤ I ≤ N ≤ MAX_SHARDS."""
    m = re.fullmatch(r"([0-9]{1,4})/([0-9]{1,4})", text.strip())
    if m is None or not 1 <= int(m[1]) <= int(m[2]) <= MAX_SHARDS:
        raise UsageError(
            f"--shard '{text}': expected I/N with 1 ≤ I ≤ N ≤ {MAX_SHARDS}, "
            'e.g. --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"'
        )
    return int(m[1]), int(m[2])


def member(app_id: str, index: int, total: int) -> bool:
    """Whether shard `index` of `total` renders the app: a hash of its id, not its place in a list,
    so adding an app never moves another one to a different shard."""
    h = int.from_bytes(hashlib.sha256(app_id.encode()).digest()[:8], "big")
    return h % total == index - 1


def app_digest(app: App) -> str:
    """The app's stored inputs, as one hash."""
    h = hashlib.sha256()
    for path, data in sorted(bookkeeping.app_inputs(app).items()):
        h.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def app_prefixes(app_id: str, env_ids: Sequence[str]) -> tuple[str, ...]:
    """The paths that belong to one app alone in the given environments."""
    tops = ("kubernetes/{e}/{a}/", "terraform/{e}/{a}/", "clusters/{e}/renderer/{a}/", "catalog/{e}/{a}/")
    return tuple(t.format(e=e, a=app_id) for e in env_ids for t in tops)


def app_files(tree: Mapping[str, bytes], app_id: str, env_ids: Sequence[str]) -> dict[str, str]:
    """Path → sha256 of the app's own files in the tree."""
    prefixes = app_prefixes(app_id, env_ids)
    return {p: hashlib.sha256(d).hexdigest() for p, d in sorted(tree.items()) if p.startswith(prefixes)}


def routes(rendered: pipeline.Rendered) -> tuple[tuple[str, str, str, str], ...]:
    """Every Ingress (host, path) of every app, per environment: the cross-app check the merge runs
    on the whole render (two apps in different shards must not route the same host and path)."""
    out = set()
    for env in rendered.envs:
        for path, doc in env.documents.items():
            parts = path.split("/")
            if parts[0] == "kubernetes" and len(parts) > 3 and parts[2] != "_shared":
                out |= {(env.env.id, host, route, parts[2]) for host, route in collisions.ingress_routes(doc)}
    return tuple(sorted(out))


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
        stored, _broken = bookkeeping.stored_apps(repo.path, platform.trust.limits)
        apps = {k: v for k, v in stored.items() if member(k, index, total)}
        options = pipeline.Options(
            {**bookkeeping.recorded_images(repo.path, stored, ()), **req.images},
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


def write_manifest(directory: str, manifest: Manifest) -> str:
    """The manifest as `<directory>/shard-I-of-N.json` (sorted keys: the same shard, the same bytes)."""
    os.makedirs(directory, exist_ok=True)
    data = {
        "version": VERSION,
        "renderer": __version__,
        "index": manifest.index,
        "total": manifest.total,
        "platform_digest": manifest.platform_digest,
        "envs": list(manifest.envs),
        "apps": {k: {"digest": d, "files": dict(f)} for k, (d, f) in manifest.apps.items()},
        "warnings": [_warning_json(f) for f in manifest.warnings],
    }
    path = os.path.join(directory, manifest.file_name)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True, indent=1)
        fh.write("\n")
    return path


def read_manifests(directory: str) -> list[Manifest]:
    """Every `shard-I-of-N.json` in the directory, each checked against the schema and bounded; the
    set refused unless it is shards 1..N of one N, each once (artifacts of one pipeline)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise UsageError(f"--merge-shards {directory}: cannot list it ({exc.strerror})") from None
    manifests = [_read(directory, n) for n in names if n.startswith("shard-")]
    if not manifests:
        raise UsageError(f"--merge-shards {directory}: no shard-I-of-N.json in it; did the shard jobs run?")
    totals = sorted({m.total for m in manifests})
    if len(totals) > 1:
        raise UsageError(
            f"--merge-shards {directory}: shards of different splits ({totals}); run the pipeline again"
        )
    total = totals[0]
    seen = [m.index for m in manifests]
    twice = sorted({i for i in seen if seen.count(i) > 1})
    if twice:
        raise UsageError(
            f"--merge-shards {directory}: shard {', '.join(f'{i}/{total}' for i in twice)} given twice; "
            "nothing was pushed"
        )
    missing = sorted(set(range(1, total + 1)) - set(seen))
    if missing:
        names_missing = ", ".join(f"{i}/{total}" for i in missing)
        raise UsageError(f"--merge-shards {directory}: shard {names_missing} missing; nothing was pushed")
    return sorted(manifests, key=lambda m: m.index)


def _read(directory: str, name: str) -> Manifest:
    path = os.path.join(directory, name)
    where = f"{path}: "
    m = NAME.fullmatch(name)
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise UsageError(f"{where}cannot read it ({exc.strerror})") from None
    if m is None or not stat.S_ISREG(info.st_mode):
        raise InputError([Problem(path, 0, "", "not a shard manifest", "expected a file shard-I-of-N.json")])
    if info.st_size > MAX_MANIFEST:
        raise InputError([Problem(path, 0, "", f"larger than {MAX_MANIFEST} bytes", "not a shard manifest")])
    with open(path, "rb") as fh:
        raw = fh.read(MAX_MANIFEST + 1)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InputError(
            [Problem(path, 0, "", f"not JSON: {exc}", "use the shard job's artifact as made")]
        ) from None
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(data))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path)
        raise InputError([Problem(path, 0, at, error.message, "use the shard job's artifact as made")])
    manifest = _manifest(data)
    if (manifest.index, manifest.total) != (int(m[1]), int(m[2])):
        raise InputError([Problem(path, 0, "index", "does not match the file name", "")])
    _check_paths(path, manifest)
    return manifest


def _manifest(data: Mapping[str, object]) -> Manifest:
    """The schema-checked JSON as a value (the casts the schema guarantees)."""
    apps = data["apps"]
    assert isinstance(apps, dict)
    envs, warnings = data["envs"], data["warnings"]
    assert isinstance(envs, list) and isinstance(warnings, list)
    return Manifest(
        int(str(data["index"])),
        int(str(data["total"])),
        str(data["platform_digest"]),
        tuple(str(e) for e in envs),
        {
            str(k): (str(v["digest"]), {str(p): str(h) for p, h in v["files"].items()})
            for k, v in apps.items()
        },
        tuple(_finding(w) for w in warnings),
    )


def _warning_json(f: Finding) -> dict[str, object]:
    r = f.result
    values = (f.env, f.policy_set, f.mode, r.namespace, r.rule, r.kind, r.message, r.path, f.object, f.source)
    return {**dict(zip(WARNING_FIELDS, values, strict=True)), "line": f.line}


def _finding(w: Mapping[str, object]) -> Finding:
    """A warning as the shard's checks found it (schema-checked: every field a string)."""
    v = {k: str(w[k]) for k in WARNING_FIELDS}
    result = Result(v["namespace"], v["rule"], v["kind"], v["message"], v["path"])
    return Finding(
        v["env"], v["policy_set"], v["mode"], result, v["object"], v["source"], int(str(w["line"]))
    )


def _check_paths(path: str, manifest: Manifest) -> None:
    """Each app of the manifest belongs to its shard, and names only files of its own."""
    for app_id, (_digest, files) in manifest.apps.items():
        if not member(app_id, manifest.index, manifest.total):
            raise InputError([Problem(path, 0, f"apps/{app_id}", "not an app of this shard", "")])
        prefixes = app_prefixes(app_id, manifest.envs)
        for name in files:
            if not name.startswith(prefixes) or ".." in name.split("/"):
                raise InputError([Problem(path, 0, f"apps/{app_id}/files", f"'{name}' is not the app's", "")])


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
        _no_shared_routes(routes(rendered))
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


def _no_shared_routes(found: Sequence[tuple[str, str, str, str]]) -> None:
    """Two apps that route one host and path in one environment: refused, as an unsharded render does."""
    by_route: dict[tuple[str, str, str], set[str]] = {}
    for env, host, path, app in found:
        by_route.setdefault((env, host, path), set()).add(app)
    problems = [
        Problem(
            f"kubernetes/{env}",
            0,
            "",
            f"Ingress host {host} path {path} is routed by {' and '.join(sorted(apps))}",
            "one app must change its host or path",
        )
        for (env, host, path), apps in sorted(by_route.items())
        if len(apps) > 1
    ]
    if problems:
        raise InputError(problems)
