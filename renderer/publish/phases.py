"""Two-phase publish: Kubernetes objects that reference secrets AWS does not hold yet wait for them.

`publish --check-aws` renders the apps it publishes, asks Secrets Manager (as the check role) for
every secret their ExternalSecrets reference, and holds back the objects that need a missing one:
the ExternalSecret and every object of the app that reads the Kubernetes Secret it fills. The first
phase (the environment's usual commit or merge request, with the Terraform that creates the
secrets) keeps their previous version, or leaves them out when they are new. The second phase is
a draft merge request from `held/<envs>/<scope>` carrying the check's report. A later
`publish --check-aws` that finds the secrets ships them in the usual way and closes the draft.
Only the second phase waits: the Terraform is never held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from renderer import pipeline
from renderer.adapters import gitrepo
from renderer.data import Json
from renderer.model import App, Environment, Platform
from renderer.publish import writer
from renderer.render import tree as trees

if TYPE_CHECKING:
    from renderer.adapters.aws import Cloud
    from renderer.publish import pinning
    from renderer.render.environment import EnvRender
    from renderer.review import awscheck

DRAFT = "Draft: "  # GitLab marks a merge request whose title starts so as a draft: it cannot be merged


class Drafts(Protocol):
    """The merge requests the second phase opens and closes (adapters/gitlab.MergeRequests)."""

    def draft(self, branch: str, target: str, title: str, body: str) -> str: ...

    def close(self, branch: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Held:
    """One environment's objects that wait for AWS."""

    waiting: tuple[str, ...]  # the object files held back, sorted
    files: Mapping[str, bytes]  # what the second phase writes: those objects and their kustomization
    report: str  # the check's report (secret paths, never a value)


@dataclass(frozen=True, slots=True)
class Gate:
    """What `publish --check-aws` found at the edge, for the publish to act on."""

    checked: tuple[str, ...] = ()  # environments whose secrets were checked
    held: Mapping[str, Held] = field(default_factory=dict)  # env id → what waits there
    pins: pinning.Pins = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.checked)

    def waiting(self, env_ids: Sequence[str]) -> list[str]:
        return [p for e in env_ids if e in self.held for p in self.held[e].waiting]


def gate(
    platform: Platform,
    apps: Sequence[App],
    envs: Sequence[Environment],
    options: pipeline.Options,
    cloud_for: Callable[[Environment], Cloud],
) -> Gate:
    """Pin images where the environment pins them, then check each environment's secrets."""
    from renderer.publish import pinning  # only `--check-aws` asks: a publish without it never loads it
    from renderer.review import awscheck

    pins = pinning.resolve(platform, apps, envs, options, cloud_for)
    if not apps:
        return Gate(pins=pins)
    ids = [a.id for a in apps]
    held: dict[str, Held] = {}
    for env in envs:
        rendered = pipeline.run(platform, apps, [env.id], replace(options, pins=pins))
        (env_render,) = rendered.envs
        wanted = {s: awscheck.Needs(secrets=n.secrets) for s, n in awscheck.needs(env_render, ids).items()}
        report = awscheck.run(env.id, wanted, cloud_for(env))
        paths = waiting(env_render, report)
        if paths:
            files = {p: rendered.tree[p] for p in paths}
            files.update({k: rendered.tree[k] for k in _kustomizations(paths) if k in rendered.tree})
            held[env.id] = Held(tuple(paths), files, awscheck.text(report))
    return Gate(tuple(e.id for e in envs), held, pins)


def waiting(rendered: EnvRender, report: awscheck.Report) -> list[str]:
    """The Kubernetes objects that need a missing secret: ExternalSecrets that reference one, and the
    objects of the same app and namespace that read the Secret such an ExternalSecret fills."""
    from renderer.review import awscheck

    env = rendered.env.id
    missing = {(f.scope, f.name) for f in report.findings if f.kind == "secret" and f.missing}
    held: set[str] = set()
    filled: set[tuple[str, str, str]] = set()  # (app, namespace, Kubernetes Secret name)
    docs = {p: d for p, d in rendered.documents.items() if p.startswith(f"kubernetes/{env}/")}
    for path, doc in docs.items():
        scope = path.split("/")[2]
        if isinstance(doc, Mapping) and any((scope, k) in missing for k, _ in awscheck.remote_refs(doc)):
            held.add(path)
            filled.add((scope, _namespace(doc), _target(doc)))
    for path, doc in docs.items():
        scope = path.split("/")[2]
        if isinstance(doc, Mapping) and any((scope, _namespace(doc), n) in filled for n in _reads(doc)):
            held.add(path)
    return sorted(held)


def hold(
    tree: dict[str, bytes], held: writer.Held, gate: Gate, env_ids: Sequence[str], kept: Sequence[str] = ()
) -> None:
    """The first phase: each held object keeps the checkout's version, or is left out when it is new
    (and its folder's kustomization no longer lists it, nor stops listing the files of the `kept`
    folders, which the render left as they are)."""
    dropped: set[str] = set()
    waiting = [p for p in gate.waiting(env_ids) if p in tree]
    previous = held.read([p for p in waiting if p in held.paths])
    for path in waiting:
        if path in previous:
            tree[path] = bytes(previous[path])
        else:
            del tree[path]
            dropped.add(path)
    folders = set(kept)
    stay = [p for p in held.paths if "/".join(p.split("/", 4)[:4]) + "/" in folders] if dropped else []
    for kustomization in _kustomizations(sorted(dropped)):
        folder = kustomization[: -len("kustomization.yaml")]
        inner = [p[len(folder) :] for p in [*tree, *stay] if p.startswith(folder) and p != kustomization]
        tree[kustomization] = trees.kustomization(inner)


def section(gate: Gate, env_ids: Sequence[str], scope: str) -> str:
    """What the first phase's merge request says about the objects it holds back."""
    paths = gate.waiting(env_ids)
    if not paths:
        return ""
    listed = "".join(f"- {p}\n" for p in paths)
    return (
        f"Held back until AWS has the secrets they reference (second phase: the draft merge request "
        f"from {branch_name(env_ids, scope)}):\n{listed}\n"
    )


def branch_name(env_ids: Sequence[str], scope: str) -> str:
    return f"held/{'+'.join(env_ids)}/{scope}"


@dataclass(frozen=True, slots=True)
class Where:
    """One delivery group: its environments, the apps' scope name, the branch the first phase went to."""

    env_ids: tuple[str, ...]
    scope: str
    base: str


@dataclass(frozen=True, slots=True)
class Second:
    branch: str = ""
    commit: str | None = None
    merge_request: str = ""
    closed: bool = False  # an earlier phase's draft merge request, closed: nothing waits any more


def follow(
    repo: gitrepo.Repo, gate: Gate, where: Where, title: str, author: str, drafts: Drafts | None
) -> Second:
    """The second phase of one delivery group: the held objects on top of `base` (the branch the
    first phase went to), pushed to `held/<envs>/<scope>` with a draft merge request into `base`;
    or, when nothing is held any more, the earlier draft merge request closed."""
    env_ids, base = where.env_ids, where.base
    branch = branch_name(env_ids, where.scope)
    files = {p: b for e in env_ids if e in gate.held for p, b in gate.held[e].files.items()}
    if not files:
        closed = drafts.close(branch) if drafts is not None and gate.active else False
        return Second(closed=closed)
    head = gitrepo.remote_head(repo, base)
    target = base if head is not None else "main"
    parent = head or gitrepo.remote_head(repo, "main")
    commit = gitrepo.commit_files(repo, parent, files, (), f"held: {title}", author)
    assert commit is not None  # `files` is not empty
    expected = gitrepo.remote_head(repo, branch)
    if not _holds(repo, branch, expected, commit):
        repo.git("update-ref", "HEAD", commit)
        if not gitrepo.push_cas(repo, branch, expected, force=True):
            raise gitrepo.GitError("push", "moved", f"{branch} moved while this publish pushed it")
    if drafts is None:
        return Second(branch, commit)
    url = drafts.draft(branch, target, f"{title} (waiting for AWS)", _body(gate, env_ids))
    return Second(branch, commit, url)


def _holds(repo: gitrepo.Repo, branch: str, expected: str | None, commit: str) -> bool:
    """Whether the remote branch already holds `commit`'s tree: no push, the draft's pipeline kept."""
    if expected is None:
        return False
    gitrepo.fetch_branch(repo, branch, gitrepo.TIP)
    return repo.git("rev-parse", f"{expected}^{{tree}}") == repo.git("rev-parse", f"{commit}^{{tree}}")


def _body(gate: Gate, env_ids: Sequence[str]) -> str:
    reports = "\n\n".join(gate.held[e].report for e in env_ids if e in gate.held)
    listed = "".join(f"- {p}\n" for p in gate.waiting(env_ids))
    return (
        "Second phase: these Kubernetes objects reference secrets that AWS does not have yet (the "
        "Terraform of the first phase creates them once Atlantis has applied it):\n"
        f"{listed}\nWhat `renderer check` found:\n\n```\n{reports}\n```\n\n"
        "Run the publish job again (`publish --check-aws`) once the Terraform is applied: it ships "
        "these objects with the usual delivery and closes this draft.\n"
    )


def _kustomizations(paths: Sequence[str]) -> list[str]:
    """The kustomization of each held object's app folder (`kubernetes/<env>/<app>/`)."""
    return sorted({"/".join(p.split("/")[:3]) + "/kustomization.yaml" for p in paths})


def _namespace(doc: Mapping[str, Json]) -> str:
    meta = doc.get("metadata")
    ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    return ns if isinstance(ns, str) else ""


def _target(doc: Mapping[str, Json]) -> str:
    """The Kubernetes Secret an ExternalSecret fills: `spec.target.name`, else its own name."""
    spec = doc.get("spec")
    target = spec.get("target") if isinstance(spec, Mapping) else None
    name = target.get("name") if isinstance(target, Mapping) else None
    meta = doc.get("metadata")
    own = meta.get("name") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) else own if isinstance(own, str) else ""


def _reads(node: Json) -> Iterator[str]:
    """Secret names an object reads: `secretKeyRef`/`secretRef` names, secret volumes and projections."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("secretKeyRef", "secretRef") and isinstance(value, Mapping):
                name = value.get("name")
                yield from [name] if isinstance(name, str) else []
            elif key == "secret" and isinstance(value, Mapping):
                name = value.get("secretName", value.get("name"))
                yield from [name] if isinstance(name, str) else []
            else:
                yield from _reads(value)
    elif isinstance(node, list):
        for item in node:
            yield from _reads(item)
