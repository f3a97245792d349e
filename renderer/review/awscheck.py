"""What an environment's rendered output needs from AWS, and whether AWS has it: a report per app.

`needs` reads the rendered documents (pure): the Secrets Manager paths ExternalSecrets reference,
the images pods run, the Terraform backend buckets. `run` asks a `Cloud` (adapters/aws.py) about
each, once per distinct name, and never for a secret's value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from renderer.adapters.aws import Cloud, Secret, ecr_image
from renderer.data import Json

if TYPE_CHECKING:
    from renderer.render.environment import EnvRender

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
MISSING = ("missing", "no-current-version", "deleted", "missing-key")


@dataclass(frozen=True, slots=True)
class Needs:
    """One scope's (an app's, or `_shared`'s) references into AWS, sorted."""

    secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # path → properties read
    images: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    scope: str
    kind: str  # secret | image | bucket
    name: str
    status: str  # present | missing | no-current-version | deleted | missing-key | unchecked
    detail: str = ""

    @property
    def missing(self) -> bool:
        return self.status in MISSING

    def as_dict(self) -> dict[str, Json]:
        return {"kind": self.kind, "name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Report:
    env: str
    findings: tuple[Finding, ...]
    digests: Mapping[str, str]  # ECR image (by tag) → the digest it resolved to

    @property
    def ok(self) -> bool:
        return not any(f.missing for f in self.findings)

    def scopes(self) -> list[str]:
        return sorted({f.scope for f in self.findings})

    def as_dict(self) -> dict[str, Json]:
        apps: dict[str, Json] = {}
        for scope in self.scopes():
            mine = [f for f in self.findings if f.scope == scope]
            apps[scope] = {
                "ok": not any(f.missing for f in mine),
                "missing": [f.as_dict() for f in mine if f.missing],
                "unchecked": [f.as_dict() for f in mine if f.status == "unchecked"],
                "present": [f.as_dict() for f in mine if f.status == "present"],
            }
        return {"env": self.env, "ok": self.ok, "apps": apps, "digests": dict(sorted(self.digests.items()))}


def needs(rendered: EnvRender, scopes: Sequence[str] | None = None) -> dict[str, Needs]:
    """Per scope of the environment (or only `scopes`), what its output references in AWS."""
    env = rendered.env.id
    secrets: dict[str, dict[str, set[str]]] = {}
    images: dict[str, set[str]] = {}
    buckets: dict[str, set[str]] = {}
    for path, doc in sorted(rendered.documents.items()):
        scope = _scope(path, env)
        if scope is None or (scopes is not None and scope not in scopes) or not isinstance(doc, Mapping):
            continue
        if path.startswith("terraform/"):
            buckets.setdefault(scope, set()).update(_backend_bucket(doc))
            continue
        for key, prop in remote_refs(doc):
            secrets.setdefault(scope, {}).setdefault(key, set()).update([prop] if prop else [])
        images.setdefault(scope, set()).update(_images(doc))
    return {
        s: Needs(
            {k: tuple(sorted(v)) for k, v in sorted(secrets.get(s, {}).items())},
            tuple(sorted(images.get(s, ()))),
            tuple(sorted(buckets.get(s, ()))),
        )
        for s in sorted(set(secrets) | set(images) | set(buckets))
    }


def run(env: str, wanted: Mapping[str, Needs], cloud: Cloud) -> Report:
    """Ask AWS about every reference; each distinct secret, image and bucket once."""
    secrets = {name: cloud.secret(name) for n in wanted.values() for name in n.secrets}
    digests: dict[str, str] = {}
    found: dict[str, str | None] = {}
    for image in sorted({i for n in wanted.values() for i in n.images}):
        ref = ecr_image(image)
        if ref is not None:
            found[image] = cloud.image_digest(ref)
            if found[image]:
                digests[image] = str(found[image])
    buckets = {b: cloud.bucket_exists(b) for n in wanted.values() for b in n.buckets}
    findings: list[Finding] = []
    for scope, n in wanted.items():
        for name, props in n.secrets.items():
            findings.append(_secret_finding(scope, name, props, secrets[name]))
        findings += [_image_finding(scope, image, found) for image in n.images]
        findings += [
            Finding(scope, "bucket", b, "present" if buckets[b] else "missing", "Terraform backend (S3)")
            for b in n.buckets
        ]
    return Report(env, tuple(sorted(findings)), digests)


def text(report: Report) -> str:
    """Per app: what is missing, what could not be checked, and a count of what is there."""
    lines = []
    for scope in report.scopes():
        mine = [f for f in report.findings if f.scope == scope]
        missing = [f for f in mine if f.missing]
        present = sum(1 for f in mine if f.status == "present")
        verdict = f"{len(missing)} missing" if missing else "ok"
        lines.append(f"{report.env}/{scope}: {verdict} ({present} present)")
        lines += [f"  missing {f.kind} {f.name}: {f.detail}" for f in missing]
        lines += [f"  unchecked {f.kind} {f.name}: {f.detail}" for f in mine if f.status == "unchecked"]
    total = sum(1 for f in report.findings if f.missing)
    lines.append(f"{total} required reference(s) missing in AWS" if total else "everything referenced exists")
    return "\n".join(lines)


def _secret_finding(scope: str, name: str, props: Sequence[str], secret: Secret) -> Finding:
    if secret.status != "present":
        return Finding(scope, "secret", name, secret.status, _SECRET_DETAIL[secret.status])
    if secret.keys is not None:
        absent = [p for p in props if p not in secret.keys]
        if absent:
            return Finding(
                scope, "secret", name, "missing-key", "keys not in the secret: " + ", ".join(absent)
            )
    return Finding(scope, "secret", name, "present")


_SECRET_DETAIL = {
    "missing": "no such secret in Secrets Manager",
    "no-current-version": "the secret has no AWSCURRENT version (no value set yet)",
    "deleted": "the secret is scheduled for deletion",
}


def _image_finding(scope: str, image: str, found: Mapping[str, str | None]) -> Finding:
    if image not in found:
        registry = image.split("/", 1)[0]
        return Finding(scope, "image", image, "unchecked", f"registry {registry} is not ECR")
    digest = found[image]
    if digest is None:
        return Finding(scope, "image", image, "missing", "no such repository or tag in ECR")
    return Finding(scope, "image", image, "present", digest)


def _scope(path: str, env: str) -> str | None:
    for top in ("kubernetes", "terraform"):
        prefix = f"{top}/{env}/"
        if path.startswith(prefix):
            scope = path[len(prefix) :].split("/", 1)[0]
            return None if scope == "modules" or "/" not in path[len(prefix) :] else scope
    return None


def _backend_bucket(doc: Mapping[str, Json]) -> list[str]:
    terraform = doc.get("terraform")
    backend = terraform.get("backend") if isinstance(terraform, Mapping) else None
    s3 = backend.get("s3") if isinstance(backend, Mapping) else None
    bucket = s3.get("bucket") if isinstance(s3, Mapping) else None
    return [bucket] if isinstance(bucket, str) else []


def remote_refs(doc: Mapping[str, Json]) -> Iterator[tuple[str, str]]:
    """ExternalSecret `spec.data[].remoteRef` and `spec.dataFrom[].extract` keys, with the property."""
    if doc.get("kind") != "ExternalSecret":
        return
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        return
    for item, ref_key in [(i, "remoteRef") for i in _list(spec.get("data"))] + [
        (i, "extract") for i in _list(spec.get("dataFrom"))
    ]:
        ref = item.get(ref_key)
        if isinstance(ref, Mapping) and isinstance(ref.get("key"), str):
            prop = ref.get("property")
            yield str(ref["key"]), prop if isinstance(prop, str) else ""


def _images(node: Json) -> Iterator[str]:
    """Every container image of an object, wherever its pod template sits."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in CONTAINER_LISTS:
                for c in _list(value):
                    if isinstance(c.get("image"), str):
                        yield str(c["image"])
            else:
                yield from _images(value)
    elif isinstance(node, list):
        for item in node:
            yield from _images(item)


def _list(value: Json) -> list[Mapping[str, Json]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
