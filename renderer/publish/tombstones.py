"""Whether a tombstoned Terraform project has been destroyed, decided without reading its state.

A project a publish no longer renders is first emptied (`bookkeeping.terraform_tombstones`): its
`main.tf.json` keeps the backend and providers and says `"//": "emptied by platform-renderer"`.
State holds secrets, so the renderer never reads it; instead it asks GitLab for Atlantis's commit
status on the commit that emptied the project (the commit that brought the marker into the file,
which is the head Atlantis planned and applied): `atlantis/apply` success means the destroy ran.
`renderer check --env-repo` reports each tombstone; the platform then lets a destroyed one go with
`publish --all-apps --env ENV --destroyed ENV/APP`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from renderer.adapters import gitlab, gitrepo
from renderer.data import Json
from renderer.publish.bookkeeping import EMPTIED
from renderer.render.terraform import project_of

Statuses = Callable[[str], Sequence[gitlab.Status]]  # commit sha → its statuses (latest per name)


@dataclass(frozen=True, slots=True, order=True)
class Tombstone:
    env: str
    scope: str
    path: str
    commit: str  # the commit that emptied it
    status: str  # destroyed | apply-failed | not-applied
    detail: str

    def as_dict(self) -> dict[str, Json]:
        return {
            "project": f"{self.env}/{self.scope}",
            "path": self.path,
            "emptied_by": self.commit,
            "status": self.status,
            "detail": self.detail,
        }


def read(
    url: str, env: str, environ: Mapping[str, str], statuses: Statuses, timeout: float
) -> list[Tombstone]:
    """Every tombstoned project of `env` on the environment repo's main, with its apply result."""
    with tempfile.TemporaryDirectory(prefix="renderer-tombstones-") as tmp:
        repo = gitrepo.open_clone(url, tmp, "main", environ, timeout=timeout)
        if gitrepo.fetch(repo, "main") is None:
            return []
        found = list(emptied(repo, env))
    return [judge(env, scope, path, commit, statuses(commit)) for scope, path, commit in found]


def emptied(repo: gitrepo.Repo, env: str) -> Iterator[tuple[str, str, str]]:
    """(scope, path, the commit that emptied it) of each tombstoned project of `env` at HEAD."""
    listed = repo.git("ls-tree", "-r", "--name-only", "HEAD", "--", f"terraform/{env}/").splitlines()
    for path in sorted(listed):
        project = project_of(path)
        if project is None:
            continue
        try:
            body = json.loads(repo.git("show", f"HEAD:{path}"))
        except (ValueError, RecursionError):
            continue  # not ours to judge: `publish` reports a broken project file
        if isinstance(body, dict) and body.get("//") == EMPTIED:
            commit = repo.git("log", "-n1", "--format=%H", "-S", EMPTIED, "HEAD", "--", path)
            yield project[1], path, commit


def judge(env: str, scope: str, path: str, commit: str, statuses: Sequence[gitlab.Status]) -> Tombstone:
    """Destroyed when Atlantis's apply succeeded on the commit that emptied the project."""
    by_name = {s.name: s for s in statuses}
    apply, plan = by_name.get("atlantis/apply"), by_name.get("atlantis/plan")
    if apply is not None and apply.state == "success":
        item = f"{env}/{scope}"
        return Tombstone(
            env,
            scope,
            path,
            commit,
            "destroyed",
            f"atlantis/apply succeeded; let it go: publish --all-apps --env {env} --destroyed {item}",
        )
    if apply is not None and apply.state == "failed":
        failed = "atlantis/apply failed: see its merge request"
        return Tombstone(env, scope, path, commit, "apply-failed", failed)
    ordered = sorted(statuses, key=lambda s: s.name)
    seen = ", ".join(f"{s.name} {s.state}" for s in ordered) or "no Atlantis status"
    return Tombstone(
        env,
        scope,
        path,
        commit,
        "not-applied",
        f"{seen} on {commit[:12]}: the destroy has not been applied" + ("" if plan else " (nor planned)"),
    )


def text(items: Sequence[Tombstone]) -> str:
    lines = [f"tombstone {t.env}/{t.scope}: {t.status} ({t.detail})" for t in sorted(items)]
    return "\n".join(lines) if lines else "no tombstoned Terraform project"
