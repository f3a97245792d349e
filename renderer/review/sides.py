"""The two sides of `impact`: the platform repo at a commit (or its work tree), each rendered by its
own renderer in a process of its own, and which apps fail on which side.

A side is a folder holding a platform checkout; `renderer render --root SIDE --app DIR… --out OUT`
runs with `PYTHONPATH=SIDE`, so a change to the rendering code shows as output too. Every version
of the renderer has that command. All apps render together first (one process per side); only when
a side fails does each app render alone, to name the apps that fail and why (the exit code says
the category: 3 invalid input, 4 policy, 70 internal). Both sides then render the same apps, those
that render on both, so the comparison shows what changed and never a failure as a deletion.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from renderer.adapters import gitrepo
from renderer.checks.secrets import sensitive_values
from renderer.errors import UsageError, redact

RENDER_TIMEOUT = 900.0  # seconds one render process may take
MESSAGE_LINES = 12  # of a failing render's report, the last lines kept
MESSAGE_CHARS = 4000
TOGETHER = ""  # the "app" of a failure that only shows when the apps render together


@dataclass(frozen=True, slots=True)
class Failure:
    app: str  # TOGETHER: every app renders alone, not all together
    code: int  # the renderer's exit code
    message: str  # the end of its report (stderr)

    @property
    def category(self) -> str:
        return {3: "invalid input", 4: "policy denied", 5: "publish", 2: "usage"}.get(self.code, "internal")


@dataclass(frozen=True, slots=True)
class Side:
    root: str  # the platform checkout this side renders with
    tree: Mapping[str, bytes]  # the rendered output of the apps both sides render
    failures: Mapping[str, Failure]  # app → why it does not render on this side


@dataclass(frozen=True, slots=True)
class Runner:
    environ: Mapping[str, str]
    workdir: str  # scratch space: outputs go below it
    timeout: float = RENDER_TIMEOUT
    hide: tuple[str, ...] = ()  # temporary folders, left out of messages so that reports are stable

    def render(self, root: str, apps: Sequence[str], out: str) -> tuple[int, str]:
        """`renderer render` of `apps` (folders) with the renderer and platform at `root`."""
        argv = [sys.executable, "-m", "renderer", "render", "--root", root, "--out", out]
        for app in apps:
            argv += ["--app", app]
        env = {k: v for k, v in self.environ.items() if k not in ("RENDERER_ROOT", "PYTHONPATH")}
        env["RENDERER_JOBS"] = "1"  # the two sides already run side by side; the output is the same
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the work tree as it is (no __pycache__ in it)
        if os.path.isfile(os.path.join(root, "renderer", "__init__.py")):
            env["PYTHONPATH"] = root  # its own renderer; a checkout without one renders with ours
        try:
            proc = subprocess.run(
                argv, cwd=self.workdir, env=env, capture_output=True, text=True, timeout=self.timeout
            )
        except subprocess.TimeoutExpired:
            return 70, f"the render took longer than {self.timeout:g} s"
        lines = (proc.stderr or proc.stdout).strip()[-MESSAGE_CHARS:].splitlines()[-MESSAGE_LINES:]
        message = "\n".join(lines)
        for prefix in sorted((p for p in self.hide if p.strip("/")), key=len, reverse=True):
            message = message.replace(prefix.rstrip("/") + "/", "")
        return proc.returncode, redact(message, sensitive_values(self.environ))


def commit_of(root: str, ref: str, environ: Mapping[str, str]) -> str:
    repo = gitrepo.Repo(root, "", gitrepo.git_env(environ))
    code, top, _ = repo.run("rev-parse", "--show-toplevel")
    if code != 0 or os.path.realpath(top.strip()) != os.path.realpath(root):
        raise UsageError(f"{root} is not the top of a git work tree: impact compares two commits of it")
    code, out, _ = repo.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if code != 0:
        raise UsageError(f"'{ref}' is not a commit of the platform repo at {root}")
    return out.strip()


def changed_files(root: str, base: str, head: str | None, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Files that differ between `base` and `head`, or the work tree (untracked files included)."""
    repo = gitrepo.Repo(root, "", gitrepo.git_env(environ))
    diff = ("diff", "--name-only", "-z", "--no-renames", base)
    if head is not None:
        return tuple(sorted(gitrepo.listing(repo, *diff, head, "--")))
    tracked = gitrepo.listing(repo, *diff, "--")
    untracked = gitrepo.listing(repo, "ls-files", "-z", "--others", "--exclude-standard")
    return tuple(sorted({*tracked, *untracked}))


def checkout(root: str, commit: str, dest: str, environ: Mapping[str, str]) -> str:
    """The commit's files in `dest` (`git archive`: the platform repo itself is left as it is)."""
    proc = subprocess.run(
        ["git", "-C", root, "archive", "--format=tar", commit],
        env=gitrepo.git_env(environ),
        capture_output=True,
        timeout=RENDER_TIMEOUT,
    )
    if proc.returncode != 0:
        raise UsageError(f"cannot read commit {commit[:12]}: {proc.stderr.decode(errors='replace').strip()}")
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def render_sides(runner: Runner, roots: tuple[str, str], apps: Mapping[str, str]) -> tuple[Side, Side]:
    """Both sides over the same apps (those that render on both), and each side's failures."""
    names = sorted(apps)
    first = _batch(runner, [(root, names, f"{i}-all") for i, root in enumerate(roots)], apps)
    if all(code == 0 for code, _ in first):
        return _side(roots[0], runner, "0-all", {}), _side(roots[1], runner, "1-all", {})
    failures: list[dict[str, Failure]] = [{}, {}]
    alone = [(root, [n], f"{i}-{n}") for i, root in enumerate(roots) if first[i][0] != 0 for n in names]
    for (root, (name,), _), (code, message) in zip(alone, _batch(runner, alone, apps), strict=True):
        if code != 0:
            failures[roots.index(root)][name] = Failure(name, code, message)
    good = [n for n in names if all(n not in f for f in failures)]
    again = (
        first
        if len(good) == len(names)
        else _batch(runner, [(r, good, f"{i}-good") for i, r in enumerate(roots)], apps)
    )
    for i, (code, message) in enumerate(again):
        if code != 0:  # with every app rendering alone: they fail only together
            failures[i][TOGETHER] = Failure(TOGETHER, code, message)
    if any(TOGETHER in f for f in failures):
        return Side(roots[0], {}, failures[0]), Side(roots[1], {}, failures[1])
    return _side(roots[0], runner, "0-good", failures[0]), _side(roots[1], runner, "1-good", failures[1])


Job = tuple[str, Sequence[str], str]  # platform root, app names, output folder name


def _batch(runner: Runner, jobs: Sequence[Job], apps: Mapping[str, str]) -> list[tuple[int, str]]:
    """Render processes two at a time (the base and the head side of one step run side by side)."""

    def one(job: Job) -> tuple[int, str]:
        root, names, out = job
        if not names:
            os.makedirs(os.path.join(runner.workdir, out), exist_ok=True)
            return 0, ""
        return runner.render(root, [apps[n] for n in names], os.path.join(runner.workdir, out))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, jobs))


def _side(root: str, runner: Runner, out: str, failures: Mapping[str, Failure]) -> Side:
    return Side(root, read_tree(os.path.join(runner.workdir, out)), dict(sorted(failures.items())))


def read_tree(folder: str) -> dict[str, bytes]:
    tree: dict[str, bytes] = {}
    for base, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(base, name)
            with open(path, "rb") as fh:
                tree[os.path.relpath(path, folder).replace(os.sep, "/")] = fh.read()
    return tree
