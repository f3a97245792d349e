"""The shards' contract: which shard renders which app (`member`), and the manifest each shard
leaves for the merge (`shard-I-of-N.json`: written here, read back bounded and schema-checked).
Format in docs/decisions.md, "Sharded platform renders"; the render itself: publish/shards.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jsonschema

from renderer import __version__
from renderer.checks.findings import Finding
from renderer.checks.rego.policyset import Result
from renderer.errors import InputError, Problem, UsageError

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


def app_prefixes(app_id: str, env_ids: Sequence[str]) -> tuple[str, ...]:
    """The paths that belong to one app alone in the given environments."""
    tops = ("kubernetes/{e}/{a}/", "terraform/{e}/{a}/", "clusters/{e}/renderer/{a}/", "catalog/{e}/{a}/")
    return tuple(t.format(e=e, a=app_id) for e in env_ids for t in tops)


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
    except RecursionError:
        raise InputError(
            [Problem(path, 0, "", "not JSON: nested too deeply", "use the shard job's artifact as made")]
        ) from None
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
