"""Running this repo's GitLab CI jobs with gitlab-ci-local (shell executor) on a copy of the project.

gitlab-ci-local comes from npm (.ci/run installs it into .venv/npm); without it these tests skip,
saying why. Jobs run with a Python whose site-packages hold only the test environment's
dependencies, not the renderer: the renderer a job runs is the one its own pip installed.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import ROOT, git
from tests.security.test_identity import Instance

NPM_BIN = ROOT / ".venv" / "npm" / "node_modules" / ".bin"
PLATFORM_URL = "https://gitlab.example.com/platform/platform-config.git"
# what a platform-config checkout needs to build, install and run the renderer
PROJECT_FILES = (
    ".gitlab-ci.yml",
    "pyproject.toml",
    "ci",
    "renderer",
    "environments",
    "platform-config",
    "policies",
    "examples",
)
MERGE_REQUEST = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}


@functools.cache
def gitlab_ci_local() -> str:
    found = NPM_BIN / "gitlab-ci-local"
    path = str(found) if found.exists() else shutil.which("gitlab-ci-local")
    if path is None:
        _unavailable(
            "gitlab-ci-local is not installed: .ci/run installs it with npm into .venv/npm "
            "(this machine could not reach the npm registry?)"
        )
    works = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    if works.returncode != 0:
        _unavailable(f"gitlab-ci-local does not start here (Node.js too old?): {works.stderr.strip()[-200:]}")
    if shutil.which("rsync") is None:
        _unavailable("rsync is not installed (gitlab-ci-local needs it; .ci/run installs it)")
    return str(path)


def _unavailable(reason: str) -> None:
    """Skip on a machine without the tools; fail in CI (.ci/run sets RENDERER_CI_LOCAL=required)."""
    if os.environ.get("RENDERER_CI_LOCAL") == "required":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def job_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv without the renderer whose imports find the test environment's dependencies."""
    venv = tmp_path_factory.mktemp("job-python")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    deps = venv / "deps"
    deps.mkdir()
    for entry in sorted(Path(sysconfig.get_paths()["purelib"]).iterdir()):
        name = entry.name
        if name.endswith(".pth") or name.startswith(("platform_renderer", "__editable__", "renderer")):
            continue
        (deps / name).symlink_to(entry)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "test-deps.pth").write_text(f"{deps}\n")
    return venv / "bin"


def commit_all(repo: Path, message: str = "commit") -> str:
    git("add", "-A", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


def as_checkout(repo: Path, origin: str) -> str:
    """A git checkout of `repo` as GitLab's runner would have it: one commit, main, an origin."""
    git("init", "-q", "-b", "main", str(repo))
    sha = commit_all(repo, "the commit the pipeline runs for")
    git("remote", "add", "origin", origin, cwd=repo)
    git("update-ref", "refs/remotes/origin/main", sha, cwd=repo)
    git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main", cwd=repo)
    return sha


def copy_project(dest: Path) -> Path:
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


class Runner:
    """gitlab-ci-local in one checkout: run jobs or list them, with variables as `--variable`."""

    def __init__(self, cwd: Path, python_bin: Path, home: Path) -> None:
        self.cwd, self.home = cwd, home
        self.binary = gitlab_ci_local()
        self.env = {
            "PATH": os.pathsep.join([str(python_bin), str(NPM_BIN), os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOME": str(home),
            "LC_ALL": "C.UTF-8",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }

    def argv(
        self, variables: Mapping[str, str], unset: Sequence[str], inputs: Mapping[str, str] | None = None
    ) -> list[str]:
        args = [self.binary, "--no-json-schema-validation", "--force-shell-executor", "--no-color"]
        args += ["--home", str(self.home), "--max-job-name-padding", "0", "--concurrency", "1"]
        predefined = sorted(k for k in [*variables, *unset] if k.startswith("CI_"))
        if predefined:  # overriding them is the point here: a trigger or a merge request sets them
            args += ["--ignore-predefined-vars", ",".join(predefined)]
        for key, value in variables.items():
            args += ["--variable", f"{key}={value}"]
        for key in unset:
            args += ["--unset-variable", key]
        for key, value in (inputs or {}).items():  # the pipeline's `spec:inputs` (what a trigger passes)
            args += ["--input", f"{key}={value}"]
        return args

    def run(
        self,
        *jobs: str,
        variables: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        timeout: int = 300,
        inputs: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.argv(variables or {}, unset, inputs), *jobs],
            cwd=self.cwd,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def jobs(
        self,
        variables: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        inputs: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The jobs a pipeline with these variables would hold: name → stage (rules applied)."""
        proc = subprocess.run(
            [*self.argv(variables or {}, unset, inputs), "--list-json"],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        listed = json.loads(proc.stdout[proc.stdout.index("[") :])
        return {job["name"]: job["stage"] for job in listed if job["when"] != "never"}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory, job_python: Path) -> Path:
    """The `build` job's wheel, built once for every worker of the test session."""
    base = tmp_path_factory.getbasetemp()  # pytest-N/ (one run), or pytest-N/popen-gwK/ per worker
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "ci-build"
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = sorted((shared / "dist").glob("*.whl")) if (shared / "dist").is_dir() else []
        if not built:
            # an earlier worker's attempt that failed or skipped (no gitlab-ci-local) left its copy
            shutil.rmtree(shared / "platform", ignore_errors=True)
            project = copy_project(shared / "platform")
            as_checkout(project, PLATFORM_URL)
            proc = Runner(project, job_python, shared / "home").run("build", timeout=600)
            assert proc.returncode == 0 and " PASS  build" in proc.stdout, proc.stdout + proc.stderr
            shutil.copytree(project / "dist", shared / "dist")
            built = sorted((shared / "dist").glob("*.whl"))
    assert len(built) == 1, built
    return built[0]


@pytest.fixture
def platform(tmp_path: Path, wheel: Path, job_python: Path) -> Runner:
    """A checkout of this project after its `build` job: dist/ holds the wheel."""
    project = copy_project(tmp_path / "platform")
    as_checkout(project, PLATFORM_URL)
    (project / "dist").mkdir()
    shutil.copy2(wheel, project / "dist" / wheel.name)
    return Runner(project, job_python, tmp_path / "home")


class StaticGitLab:
    """A loopback stand-in for the parts of a GitLab instance a job reads: the signing keys at
    /oauth/discovery/keys and repositories over git's dumb HTTP protocol (files as they are)."""

    def __init__(self, root: Path, jwks: bytes) -> None:
        self.root = root
        (root / "oauth" / "discovery").mkdir(parents=True)
        (root / "oauth" / "discovery" / "keys").write_bytes(jwks)
        handler = functools.partial(_Quiet, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def host(self, project: str, source: Path) -> None:
        """Serve `source` (a git checkout) as `<url>/<project>.git`."""
        bare = self.root / f"{project}.git"
        git("clone", "-q", "--bare", str(source), str(bare))
        git("--git-dir", str(bare), "update-server-info")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def static_gitlab(tmp_path: Path) -> Iterator[tuple[StaticGitLab, Instance]]:
    instance = Instance()  # its key signs the tokens; the static server publishes its keys
    served = StaticGitLab(tmp_path / "gitlab", instance.jwks)
    yield served, instance
    served.server.shutdown()
    instance.server.shutdown()
