"""What the fault tests share: a small app, a request against a real bare repo, the remote's state."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from renderer.inputs import app_repo, platform_config
from renderer.model import Platform
from renderer.publish import delivery, workspace
from tests.conftest import ROOT, git, write

SCORE = """apiVersion: score.dev/v1b1
metadata:
  name: web
containers:
  main:
    image: ghcr.io/example/web:1.0.0
    variables:
      GREETING: "{greeting}"
"""
DEPLOYMENT = "kubernetes/dev/shop/web/deployment-web.yaml"


def make_app(base: Path, greeting: str) -> Path:
    folder = base / "apps" / "shop"
    shutil.rmtree(folder, ignore_errors=True)
    write(folder / "score.yaml", SCORE.format(greeting=greeting))
    return folder


def platform() -> Platform:
    return platform_config.load_platform(str(ROOT))


def request(
    url: str, app: Path, push_attempts: int = 4, git_timeout: float = 60.0, max_attempts: int = 8
) -> delivery.Request:
    """A publish of one app to `dev` (a direct environment), with quick retries for tests."""
    return delivery.Request(
        url=url,
        apps=app_repo.load_apps([str(app)], str(ROOT)),
        env_ids=("dev",),
        skip_checks_for_tests=True,
        max_attempts=max_attempts,
        backoff=0.01,
        push_attempts=push_attempts,
        push_backoff=0.02,
        git_timeout=git_timeout,
    )


def publish(
    url: str,
    app: Path,
    environ: dict[str, str] | None = None,
    push_attempts: int = 4,
    git_timeout: float = 60.0,
) -> list[delivery.Outcome]:
    req = request(url, app, push_attempts=push_attempts, git_timeout=git_timeout)
    return delivery.publish(platform(), req, environ or {"PATH": os.environ["PATH"]})


def head(bare: Path, ref: str = "main") -> str:
    return git("--git-dir", str(bare), "rev-parse", "-q", "--verify", ref) if refs(bare) else ""


def refs(bare: Path) -> str:
    return git("--git-dir", str(bare), "for-each-ref", "--format=%(refname) %(objectname)")


def greeting(bare: Path, ref: str = "main") -> str:
    text = git("--git-dir", str(bare), "show", f"{ref}:{DEPLOYMENT}")
    return text.split("value: ")[1].split("\n")[0].strip("'\"")


def hook(bare: Path, name: str, body: str) -> None:
    path = bare / "hooks" / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def clones(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith(workspace.CLONE_PREFIX))
