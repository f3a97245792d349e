"""The app template gives its preview environment the URL the preview's render routes: renderer-diff
runs `renderer preview --dotenv` (its lines run here as written in the template, with a real ID
token), renderer-preview hands RENDERER_PREVIEW_URL on in its own dotenv report and names it as its
environment's `url:` (GitLab's schema checks the file: test_ci_files)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.ci.conftest import MERGE_REQUEST, StaticGitLab, as_checkout
from tests.ci.test_ci_files import APP_CI, job, load
from tests.conftest import ROOT
from tests.security.test_identity import Instance

DOTENV = "renderer-preview.env"


def lines(script: list[str], word: str) -> str:
    (found,) = [line for line in script if word in line]
    return found


def sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A job's script line as the runner's shell runs it; `renderer` is this checkout's."""
    shim = f'renderer() {{ "{sys.executable}" -m renderer "$@"; }}\n'
    return subprocess.run(
        ["sh", "-ec", shim + script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_preview_environment_takes_its_url_from_the_dotenv_reports() -> None:
    config = load(APP_CI)
    diff, start, stop = (
        job(config, n) for n in ("renderer-diff", "renderer-preview", "renderer-preview-stop")
    )
    assert diff["artifacts"]["reports"]["dotenv"] == DOTENV
    assert "--dotenv renderer-preview.env" in lines(diff["script"], "renderer preview")
    assert start["environment"]["url"] == "$RENDERER_PREVIEW_URL"
    assert start["artifacts"]["reports"]["dotenv"] == DOTENV
    assert "needs" not in start  # a .post job: after the app's own jobs, with every earlier dotenv
    assert "url" not in stop["environment"]  # the stop job reports none (GitLab's advice)


def test_renderer_diffs_preview_line_writes_the_url_the_render_routes(
    static_gitlab: tuple[StaticGitLab, Instance], tmp_path: Path
) -> None:
    served, instance = static_gitlab
    app = tmp_path / "shop"
    shutil.copytree(ROOT / "examples/apps/shop", app)
    sha = as_checkout(app, "https://gitlab.example.com/commerce/shop.git")
    env = {
        **os.environ,
        **MERGE_REQUEST,
        "CI_SERVER_URL": served.url,
        "RENDERER_ID_TOKEN": instance.token("commerce/shop", sha, iss=served.url),
        "RENDERER_PLATFORM": str(ROOT),
        "CI_REGISTRY_IMAGE": "registry.example.com/commerce/shop",
        "CI_COMMIT_SHA": sha,
    }
    line = lines(job(load(APP_CI), "renderer-diff")["script"], "renderer preview")
    proc = sh(line, app, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = dict(x.split("=", 1) for x in (app / DOTENV).read_text().splitlines())
    assert written["RENDERER_PREVIEW_NAME"] == "preview-shop-7"
    url = written["RENDERER_PREVIEW_URL"]
    assert proc.stdout.splitlines()[0] == f"preview: {url}"
    # the web workload's Ingress (the host its dns resource derives), its root before the API's /api
    assert re.fullmatch(r"https://web-[0-9a-f]{10}\.preview\.apps\.example\.com/", url), url
    assert proc.stdout.splitlines()[1].startswith("preview also: https://api-")


def test_renderer_preview_hands_the_url_on_or_nothing(tmp_path: Path) -> None:
    (script,) = job(load(APP_CI), "renderer-preview")["before_script"]
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    assert (
        sh(script, tmp_path, {**base, "RENDERER_PREVIEW_URL": "https://web-1.example.com/"}).returncode == 0
    )
    assert (tmp_path / DOTENV).read_text() == "RENDERER_PREVIEW_URL=https://web-1.example.com/\n"
    assert sh(script, tmp_path, base).returncode == 0
    assert (tmp_path / DOTENV).read_text() == ""
