"""Who is publishing: a verified GitLab ID token in CI, `--app-id` or the folder name outside it.

In CI the identity comes only from an ID token whose signature the GitLab instance's keys verify:
never from a variable, which a trigger could set. The platform's own jobs request one too, so the
platform identity (`platform.identity` in trust.yaml) is proven the same way.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from renderer.adapters import idtoken
from renderer.errors import AccessDenied, UsageError
from renderer.model import Trust
from renderer.resolve.access import name_problem


@dataclass(frozen=True, slots=True)
class Identity:
    owner: str  # a project path ("team-a/shop"), or "local/<folder>"
    platform: bool  # may publish every app and remove any
    how: str  # "gitlab-id-token", "app-id" or "local": said in refusals and provenance
    sha: str = ""  # the commit an ID token names

    def may_change(self, recorded_owner: str | None) -> bool:
        return self.platform or recorded_owner in (None, self.owner)


def in_ci(environ: Mapping[str, str]) -> bool:
    return environ.get("CI", "").lower() == "true" or "GITLAB_CI" in environ


def establish(
    environ: Mapping[str, str],
    trust: Trust,
    app_id: str | None,
    token_var: str | None,
    folder: str,
    timeout: float = idtoken.DEFAULT_TIMEOUT,
) -> Identity:
    """The identity of this run; `folder` names the local owner when nothing else does.
    `timeout`: seconds for fetching the GitLab instance's signing keys."""
    if token_var:
        return from_token(environ, token_var, trust, timeout)
    if in_ci(environ):
        raise AccessDenied(
            "in CI a publish needs a verified GitLab ID token (--id-token-var NAME): the environment "
            "repo's owner records cannot be trusted to a name any pipeline could claim"
        )
    if app_id:
        return Identity(app_id, app_id == trust.platform_identity, "app-id")
    # Outside CI the machine's user holds whatever credentials reach the repo: act as the platform.
    return Identity(f"local/{folder}" if folder else "local", True, "local")


def from_token(
    environ: Mapping[str, str], var: str, trust: Trust, timeout: float = idtoken.DEFAULT_TIMEOUT
) -> Identity:
    token = environ.get(var, "")
    issuer = environ.get("CI_SERVER_URL", "")
    if not token:
        raise UsageError(f"--id-token-var {var}: the variable is empty or not set")
    if not issuer:
        raise UsageError("CI_SERVER_URL is not set: it names the GitLab instance whose keys sign ID tokens")
    claims = idtoken.verify(token, issuer, trust.audience, timeout)
    owner = claims.project_path
    return Identity(owner, owner == trust.platform_identity, "gitlab-id-token", claims.sha)


def app_name(owner: str, trust: Trust) -> str:
    """An app's name: declared for its project in trust.yaml, else the last part of the project's
    path as a DNS label; refused when not usable."""
    slug = re.sub(r"[^a-z0-9-]+", "-", owner.rsplit("/", 1)[-1].lower()).strip("-")
    name = trust.names.get(owner, slug)
    why = name_problem(name, trust)
    if why:
        raise AccessDenied(f"app name '{name}' (from {owner}) {why}")
    return name


def check_checkout(directory: str, identity: Identity) -> None:
    """The app's files must be the commit the ID token names, not whatever a trigger points at."""
    if not identity.sha:
        return
    proc = subprocess.run(
        ["git", "-C", directory, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=60
    )
    head = proc.stdout.strip() if proc.returncode == 0 else ""
    if head != identity.sha:
        raise AccessDenied(
            f"{directory} is at {head[:12] or 'no commit'}, not at {identity.sha[:12]}, the commit "
            f"the ID token of {identity.owner} names"
        )
