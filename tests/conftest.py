"""Shared fixtures: a copy of the project in a temp dir, the shared Score data, goldens."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from renderer.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/cases/*/expected")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture
def shared_score() -> Path:
    path = SHARED / "score"
    if not path.is_dir():
        pytest.skip("../shared/score is not beside this checkout")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the platform inputs and example apps, safe to break."""
    dest = tmp_path / "project"
    for name in ("environments", "platform-config", "policies", "examples"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name)
    return dest


@pytest.fixture
def cli() -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def git(*args: str, cwd: Path | str | None = None) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd or "/tmp"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C",
    }
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=True, timeout=120
    )
    return proc.stdout.strip()


@pytest.fixture
def bare_repo(tmp_path: Path) -> Path:
    return init_bare(tmp_path / "env-repo.git")


def init_bare(path: Path) -> Path:
    """An empty environment repo that serves clones without file contents, as GitLab does
    (`uploadpack.allowFilter`): a publish fetches main without them and reads what it needs."""
    git("init", "-q", "--bare", "-b", "main", str(path))
    git("--git-dir", str(path), "config", "uploadpack.allowFilter", "true")
    return path


def run_renderer(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "renderer", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


# What the renderer reads from its environment. A CI job sets `CI`, `GITLAB_CI` and many `CI_*`
# (a publish in CI needs an ID token, the tests give one where they mean it), and a developer's
# shell may hold tokens: none of it may leak into a test.
STRAY_PREFIXES = ("CI_", "GITLAB_")
STRAY_ENV = (
    "CI",
    "RENDERER_ROOT",
    "RENDERER_AUTHOR",
    "RENDERER_DEBUG",
    "RENDERER_ENV_REPO_PROJECT",
    "RENDERER_GITLAB_TOKEN",
    "RENDERER_GITLAB_URL",
    "RENDERER_GIT_TOKEN",
    "RENDERER_JOBS",
    "RENDERER_PLATFORM_COMMIT",
    "RENDERER_PREVIEW_NAME",  # written by `renderer preview --dotenv`; a CI job after it has them set
    "RENDERER_PREVIEW_URL",
    "RENDERER_SOURCE_COMMIT",
    "RENDERER_SOURCE_REPO",
    "RENDERER_TRACE_DIR",
)


@pytest.fixture(autouse=True, scope="session")
def _no_stray_env() -> Iterator[None]:
    """Session-wide, so module- and session-scoped fixtures that publish see a clean environment too."""
    with pytest.MonkeyPatch.context() as patch:
        for key in [*STRAY_ENV, *(k for k in os.environ if k.startswith(STRAY_PREFIXES))]:
            patch.delenv(key, raising=False)
        yield


Problems = list[dict[str, object]]


def located(file: str, line: int, path: str, message: str, hint: str = "", *, kind: str) -> dict[str, object]:
    """One problem as `--format json` reports it; `kind` says whose move it is (errors.KINDS)."""
    return {"kind": kind, "file": file, "line": line, "path": path, "message": message, "hint": hint}


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in a file; the test fails if it is not there."""
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def python_in_ascii_locale(script: str, *args: str) -> str:
    """What `python -c script args` prints in a locale Python is told to keep as ASCII (no UTF-8
    mode, no locale coercion); it must exit 0."""
    environ = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=environ, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
