"""A `renderer publish` process killed or interrupted at each step, against a real bare repo.

A `git` placed first on the publisher's PATH signals the publisher when git is asked for a given
step (then runs the real git), so each kill lands at a known point: after the clone is set up,
after the checkout is written, after the commit, and (from the remote's pre-receive hook) in the
middle of the push. Whatever the moment, the remote holds a whole old or a whole new head, and
nothing the killed run left behind stops the next one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from renderer.errors import EXIT_PUBLISH
from renderer.publish import workspace
from tests.conftest import ROOT, git
from tests.faults.helpers import clones, greeting, head, hook, make_app, publish, refs


def _shim(tmp_path: Path, step: str, signum: int) -> tuple[Path, Path]:
    """A git that records its caller's pid, and signals it when the arguments contain `step`."""
    bindir, state = tmp_path / "bin", tmp_path / "victim"
    bindir.mkdir()
    real = shutil.which("git")
    assert real is not None
    if signum == signal.SIGKILL:
        action = 'kill -9 "$PPID"; exit 1'
    else:  # the signal, then a hang far longer than the test's bound: the publisher must end git's
        # process group, not wait for it
        action = f"sleep 600 & echo $! > '{state}.sleeper'; kill -{signum} \"$PPID\"; wait; exit 1"
    action = action if step else ":"
    script = f"""#!/bin/sh
echo "$PPID" > '{state}'
case " $* " in
  *' {step} '*) {action} ;;
esac
exec '{real}' "$@"
"""
    (bindir / "git").write_text(script)
    (bindir / "git").chmod(0o755)
    return bindir, state


def _start(tmp_path: Path, bare: Path, app: Path, bindir: Path, tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "TMPDIR": str(tmp)}
    argv = [sys.executable, "-m", "renderer", "publish", "--quiet", "--root", str(ROOT)]  # the error alone
    argv += ["--env-repo", str(bare)]
    return subprocess.Popen(
        [*argv, "--app", str(app), "--env", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _settled(bare: Path, old: str) -> str:
    """The remote's head once a push the killed run left running has ended (bounded wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and head(bare) == old:
        time.sleep(0.1)
    return head(bare)


@pytest.mark.parametrize(
    ("step", "lands"),
    [
        ("fetch -q", False),  # the clone is set up, nothing fetched yet
        ("fast-import", False),  # rendered, its commit being built, nothing pushed
        ("push -q", False),  # committed, not pushed
        ("pre-receive", True),  # in the middle of the push: the remote's hook kills the publisher
    ],
)
def test_kill_9_at_each_step_leaves_the_remote_whole_and_the_next_run_sweeps(
    step: str, lands: bool, tmp_path: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(str(bare_repo), make_app(tmp_path, "one"))
    old = head(bare_repo)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    bindir, state = _shim(tmp_path, "" if step == "pre-receive" else step, signal.SIGKILL)
    if step == "pre-receive":
        hook(bare_repo, "pre-receive", f"cat > /dev/null\nkill -9 \"$(cat '{state}')\"\nsleep 1\nexit 0\n")
    proc = _start(tmp_path, bare_repo, make_app(tmp_path, "two"), bindir, tmp)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err

    if lands:  # the push the hook let through goes on without the publisher
        assert _settled(bare_repo, old) != old, "the push the hook let through did not land"
    else:
        assert head(bare_repo) == old
    assert greeting(bare_repo) == ("two" if lands else "one")  # whole: the old render or the new
    git("--git-dir", str(bare_repo), "fsck", "--strict")
    left = clones(tmp)
    assert len(left) == 1, left  # SIGKILL runs no clean-up: the clone stays ...

    stale = tmp / left[0]
    hour_ago = time.time() - 2 * 3600
    os.utime(stale, (hour_ago, hour_ago))
    fresh = tmp / f"{workspace.CLONE_PREFIX}running"  # as if another publisher were at work
    fresh.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    hook(bare_repo, "pre-receive", "exit 0\n")
    [outcome] = publish(str(bare_repo), make_app(tmp_path, "three"))
    assert head(bare_repo) == outcome.commit and greeting(bare_repo) == "three"
    assert clones(tmp) == [fresh.name]  # ... until the next run sweeps it; a live one is kept


@pytest.mark.parametrize(
    ("step", "signum"),
    [("fetch -q", signal.SIGTERM), ("push -q", signal.SIGTERM), ("push -q", signal.SIGINT)],
)
def test_sigterm_or_sigint_removes_the_clone(step: str, signum: int, tmp_path: Path, bare_repo: Path) -> None:
    publish(str(bare_repo), make_app(tmp_path, "one"))
    before = refs(bare_repo)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    bindir, state = _shim(tmp_path, step, signum)
    proc = _start(tmp_path, bare_repo, make_app(tmp_path, "two"), bindir, tmp)
    _, err = proc.communicate(timeout=120)  # a publisher that waited for git's 600 s would time out
    name = signal.Signals(signum).name
    # the first fetch is main's, started before the inputs load (`workspace.fetch_early`)
    said = workspace.LOADING if step == "fetch -q" else workspace.PUBLISHING
    assert (proc.returncode, err) == (EXIT_PUBLISH, f"error: interrupted by {name}: {said}\n")
    assert not _alive(int(Path(f"{state}.sleeper").read_text()))  # ended, with all it started
    assert clones(tmp) == [] and refs(bare_repo) == before


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its reaper does not)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            return False
        if fields[0] == "Z":
            return False
        time.sleep(0.05)
    return True


def test_stale_clones_are_swept_by_age_and_kind(tmp_path: Path) -> None:
    now = time.time()
    old = now - 2 * 3600
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    made = {
        "renderer-publish-old": "dir",
        "renderer-publish-new": "dir-fresh",
        "renderer-publish-file": "file",
        "renderer-publish-link": "link",
        "someone-else-old": "dir",
    }
    for name, kind in made.items():
        path = tmp_path / name
        if kind.startswith("dir"):
            (path / "clone-0").mkdir(parents=True)
        elif kind == "file":
            path.write_text("x")
        else:
            path.symlink_to(outside)
        if kind != "dir-fresh":
            os.utime(path, (old, old), follow_symlinks=False)
    removed = workspace.sweep_stale(str(tmp_path), now)
    assert removed == [str(tmp_path / "renderer-publish-old")]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted({*made, "outside"} - {"renderer-publish-old"})
    assert (outside / "keep").read_text() == "x"


_MID_RENDER = """
import os, signal, sys, time
from renderer import pipeline
from renderer.inputs import roots

def slow(platform, apps, env, options):  # a render far longer than the test's bound
    with open(os.path.join(sys.argv[1], f"worker-{os.getpid()}"), "w"):
        pass
    time.sleep(600)

def interrupted(signum, frame):
    raise KeyboardInterrupt  # what publish's handler does with SIGTERM: an error, right here

pipeline._one_env = slow
pipeline.IN_PROCESS_BELOW = 0  # workers even for this small render
inputs = roots.load(sys.argv[2], [])
envs = [inputs.platform.environments[e] for e in ("dev", "staging")]
signal.signal(signal.SIGALRM, interrupted)
signal.setitimer(signal.ITIMER_REAL, 3)
options = pipeline.Options({}, 2)
try:
    pipeline._each_env(inputs.platform, inputs.apps, [(e, options) for e in envs], (), {}, pipeline.silent)
except KeyboardInterrupt:
    print("interrupted")
"""


def test_a_signal_mid_render_ends_the_render_workers(tmp_path: Path) -> None:
    """Publish turns SIGTERM into an error wherever the main process is; while environments render
    in worker processes it must end them, not wait for their renders (here: 600 s each)."""
    proc = subprocess.run(
        [sys.executable, "-c", _MID_RENDER, str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,  # a pool that waited for its workers would run 600 s
    )
    assert proc.stdout == "interrupted\n", proc.stderr[-2000:]
    workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
    assert len(workers) == 2  # both environments were rendering
    assert not any(_alive(pid) for pid in workers)
