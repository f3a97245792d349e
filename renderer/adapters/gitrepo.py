"""The git adapter: a working clone of the environment repo, commits through git itself, CAS pushes."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from renderer.errors import PublishError


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True, slots=True)
class Repo:
    path: str
    url: str
    env: Mapping[str, str]  # environment for git (no tokens on command lines)
    secrets: tuple[str, ...] = ()

    def git(self, *args: str, check: bool = True, input_text: str | None = None) -> str:
        proc = subprocess.run(
            ["git", "-C", self.path, *args],
            capture_output=True,
            text=True,
            env=dict(self.env),
            input=input_text,
            timeout=300,
        )
        if check and proc.returncode != 0:
            message = redact((proc.stderr or proc.stdout).strip(), self.secrets)
            raise PublishError(f"git {args[0]} failed: {message}")
        return proc.stdout.strip()

    def ok(self, *args: str) -> bool:
        return (
            subprocess.run(
                ["git", "-C", self.path, *args],
                capture_output=True,
                env=dict(self.env),
                timeout=300,
            ).returncode
            == 0
        )


def git_env(environ: Mapping[str, str]) -> dict[str, str]:
    """A predictable git: no user config, no prompts, C locale.

    An https token (RENDERER_GIT_TOKEN) travels as an HTTP header set through git's environment
    configuration: never in the URL, on a command line, or in git's own messages.
    """
    keep = {k: v for k, v in environ.items() if k in ("PATH", "HOME", "SSH_AUTH_SOCK", "TMPDIR")}
    env = {
        **keep,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    token = environ.get("RENDERER_GIT_TOKEN")
    if token:
        basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
        env.update(
            {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
        )
    return env


def open_clone(
    url: str, path: str, branch: str, environ: Mapping[str, str], secrets: Sequence[str] = ()
) -> Repo:
    """Clone (or init, for an empty remote) into `path`."""
    os.makedirs(path, exist_ok=True)
    repo = Repo(path, url, git_env(environ), tuple(secrets))
    repo.git("init", "-q", "-b", branch)
    repo.git("config", "user.name", "platform-renderer")
    repo.git("config", "user.email", "renderer@platform.invalid")
    repo.git("config", "core.autocrlf", "false")
    repo.git("remote", "add", "origin", url)
    return repo


def fetch(repo: Repo, branch: str) -> str | None:
    """Fetch the branch and check it out clean; the head we render from (None if absent)."""
    remote = repo.git("ls-remote", "origin", f"refs/heads/{branch}")
    if not remote:
        # an empty remote: start from nothing, whatever an earlier attempt left here
        repo.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        repo.git("update-ref", "-d", f"refs/heads/{branch}")
        repo.git("read-tree", "--empty")
        repo.git("clean", "-qfdx")
        return None
    repo.git("fetch", "-q", "--no-tags", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    repo.git("checkout", "-q", "-B", branch, f"refs/remotes/origin/{branch}")
    repo.git("reset", "-q", "--hard", f"refs/remotes/origin/{branch}")
    repo.git("clean", "-qfdx")
    return repo.git("rev-parse", "HEAD")


def commit_all(repo: Repo, message: str, author: str) -> str | None:
    """Stage everything and commit; None when nothing changed."""
    repo.git("add", "-A")
    if repo.ok("rev-parse", "--verify", "-q", "HEAD") and repo.ok("diff", "--cached", "--quiet"):
        return None
    if not repo.ok("rev-parse", "--verify", "-q", "HEAD") and not repo.git("ls-files"):
        return None
    name, _, email = author.partition(" <")
    repo.git(
        "-c",
        f"user.name={name or 'platform-renderer'}",
        "-c",
        f"user.email={email.rstrip('>') or 'renderer@platform.invalid'}",
        "commit",
        "-q",
        "--no-verify",
        "-F",
        "-",
        input_text=message,
    )
    return repo.git("rev-parse", "HEAD")


def push_cas(repo: Repo, branch: str, expected: str | None, force: bool = False) -> bool:
    """Push HEAD only if the remote branch still points at `expected`; False when it moved."""
    lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
    refspec = f"{'+' if force else ''}HEAD:refs/heads/{branch}"
    proc = subprocess.run(
        ["git", "-C", repo.path, "push", "-q", "--porcelain", lease, "origin", refspec],
        capture_output=True,
        text=True,
        env=dict(repo.env),
        timeout=300,
    )
    if proc.returncode == 0:
        return True
    output = proc.stdout + proc.stderr
    if (
        "[rejected]" in output
        or "stale info" in output
        or "fetch first" in output
        or "non-fast-forward" in output
        or "cannot lock ref" in output
    ):
        return False
    raise PublishError(f"git push failed: {redact(output.strip(), repo.secrets)}")


def remote_head(repo: Repo, branch: str) -> str | None:
    out = repo.git("ls-remote", "origin", f"refs/heads/{branch}")
    return out.split()[0] if out else None


def contains(repo: Repo, branch: str, commit: str) -> bool:
    """Whether the remote branch has `commit` in its history (fetched fresh)."""
    repo.git("fetch", "-q", "--no-tags", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    return repo.ok("merge-base", "--is-ancestor", commit, f"refs/remotes/origin/{branch}")
