"""`rollback`: an app's stored inputs as the environment repo held them at an older revision.

The inputs under `.render/apps/<app>/` at that revision are read back like any stored app (untrusted:
confined to their folder, under the platform's limits) and handed to `delivery.publish` as this
publish's new inputs, with the images that revision's index recorded. The render, the checks, the
owned paths, the compare-and-swap push and the merge request of a protected environment are the
publish's own: the rollback is one new commit on top of the newest head, never a history rewrite,
and it changes only what that app owns.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from renderer.adapters import gitrepo
from renderer.errors import InputError, Problem
from renderer.inputs import app_repo
from renderer.model import App, Limits
from renderer.publish import bookkeeping

# a commit, a branch or a tag; never an option (a leading '-') nor a range
_REVISION = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./~^-]{0,199}")


@dataclass(frozen=True, slots=True)
class Stored:
    """An app as the environment repo stored it at one revision."""

    app: App
    revision: str  # the full commit id
    images: Mapping[str, str] = field(default_factory=dict)  # the `--image` values it was published with
    envs: tuple[str, ...] = ()  # the environments it had output in
    envs_now: tuple[str, ...] = ()  # the environments it has output in at main's head

    def others(self, env_id: str) -> tuple[str, ...]:
        """Environments whose output is left as it is, though the stored inputs change for all."""
        return tuple(e for e in self.envs_now if e != env_id)


@dataclass(frozen=True, slots=True)
class Source:
    """Where the environment repo is, and how git reaches it."""

    url: str
    environ: Mapping[str, str]
    secrets: Sequence[str] = ()
    timeout: float = gitrepo.DEFAULT_TIMEOUT


def stored_at(source: Source, app_id: str, revision: str, workdir: str, limits: Limits) -> Stored:
    """The app's stored inputs at `revision` of main's history, loaded under the platform's rules."""
    repo = gitrepo.open_clone(
        source.url, os.path.join(workdir, "history"), "main", source.environ, source.secrets, source.timeout
    )
    head = gitrepo.fetch(repo, "main")
    sha = _resolve(repo, revision, head)
    folder = f"{bookkeeping.STORE}/{app_id}"
    found = gitrepo.folders(repo, bookkeeping.STORE, sha).get(app_id)
    if found is None:
        raise _refused(
            revision,
            f"holds no record of app '{app_id}' ({folder}/ is absent there)",
            "name a revision at which the app was published (git log -- .render/apps/<app>/)",
        )
    inputs = {inner: entry for inner, entry in found.items() if inner != app_repo.STORED_INDEX}
    total = sum(max(size, 0) for _, _, size in inputs.values())
    if len(inputs) > limits.app_files or total > limits.app_bytes + limits.file_bytes:
        raise _refused(
            sha[:12],
            f"holds {len(inputs)} files, {total} bytes under {folder}/: past the limits",
            "limits.app_files and limits.app_bytes in platform-config/trust.yaml",
        )
    # read from git's objects, never written out: the loader reads them as it reads a checkout
    files = bookkeeping.read_inputs(repo, {app_id: inputs}, limits)[app_id]
    target = os.path.join(workdir, "inputs")
    app = app_repo.load_listed(os.path.join(target, folder), target, files, limits)
    index, now = (_index(repo, commit, f"{folder}/{app_repo.STORED_INDEX}") for commit in (sha, head))
    return Stored(app, sha, _images(index), _envs(index), _envs(now))


def check_env(stored: Stored, env_id: str, revision: str) -> None:
    """Refuse a rollback of an environment the app had no output in at that revision."""
    if env_id not in stored.envs:
        had = ", ".join(stored.envs) or "none"
        raise _refused(
            revision,
            f"holds no output of app '{stored.app.id}' in environment '{env_id}' (it had output in: {had})",
            "roll back an environment the app was published to",
        )


def _resolve(repo: gitrepo.Repo, revision: str, head: str | None) -> str:
    """The commit `revision` names, if it is main's head or in its history."""
    if not _REVISION.fullmatch(revision) or ".." in revision:
        raise _refused(
            revision, "is not a revision name", "give a commit id, a branch or a tag of the environment repo"
        )
    code, out, _ = repo.run("rev-parse", "--verify", "-q", "--end-of-options", f"{revision}^{{commit}}")
    sha = out.strip()
    if head is None or code != 0 or not repo.ok("merge-base", "--is-ancestor", sha, head):
        raise _refused(
            revision,
            "does not exist in the environment repo's main history",
            "give a commit of main (git log in the environment repo)",
        )
    return sha


def _index(repo: gitrepo.Repo, commit: str | None, path: str) -> Mapping[str, object]:
    """The app's index at `commit`, read from git's objects; {} when absent or unreadable."""
    data = gitrepo.read_files(repo, commit, [path]).get(path) if commit else None
    try:
        body = json.loads(data) if data is not None else {}
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def _images(index: Mapping[str, object]) -> dict[str, str]:
    recorded = index.get("images")
    if not isinstance(recorded, Mapping):
        return {}
    return {str(k): v for k, v in sorted(recorded.items()) if isinstance(v, str)}


def _envs(index: Mapping[str, object]) -> tuple[str, ...]:
    """Environments with output recorded (`outputs`, every index version has it)."""
    outputs = index.get("outputs")
    return tuple(sorted(str(k) for k in outputs)) if isinstance(outputs, Mapping) else ()


def _refused(revision: str, message: str, hint: str) -> InputError:
    return InputError(Problem("environment repo", 0, "", f"revision '{revision}' {message}", hint))
