"""The CLI's error boundary: an unexpected exception is one line, exit 70 and a redacted trace file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from renderer.cli import main
from renderer.errors import EXIT_INTERNAL
from renderer.inputs import roots
from tests.conftest import ROOT, run_renderer

TOKEN = "glpat-Zx81kQ0pLm3nB7vC2dEe"


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug deep in a command: finding the root raises something that is not a RendererError,
    carrying the CI token in its message (as a URL in an exception might)."""

    def fail(*_: object) -> str:
        raise KeyError(f"https://oauth2:{TOKEN}@gitlab.invalid/env.git")

    monkeypatch.setattr(roots, "find_root", fail)


def _invoke(*args: str, env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.usefixtures("broken")
def test_bug_is_one_line_exit_70_and_a_redacted_trace_file(tmp_path: Path) -> None:
    env = {"RENDERER_TRACE_DIR": str(tmp_path / "traces"), "GITLAB_TOKEN": TOKEN}
    result = _invoke("validate", "--root", str(ROOT), env=env)
    assert result.exit_code == EXIT_INTERNAL
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: renderer validate --root {ROOT}: internal error (KeyError)")
    assert "Traceback" not in result.stderr
    traces = list((tmp_path / "traces").iterdir())
    assert len(traces) == 1
    assert str(traces[0]) in lines[0]
    trace = traces[0].read_text()
    assert "Traceback (most recent call last)" in trace and "find_root" in trace
    assert TOKEN not in trace and "https://oauth2:***@gitlab.invalid" in trace


@pytest.mark.usefixtures("broken")
@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_prints_the_trace_too(tmp_path: Path, how: str) -> None:
    env = {"RENDERER_TRACE_DIR": str(tmp_path), "GITLAB_TOKEN": TOKEN}
    args = ["validate"]
    if how == "flag":
        args.insert(0, "--debug")
    else:
        env["RENDERER_DEBUG"] = "1"
    result = _invoke(*args, env=env)
    assert result.exit_code == EXIT_INTERNAL
    assert "Traceback (most recent call last)" in result.stderr
    assert "internal error (KeyError)" in result.stderr
    assert TOKEN not in result.stderr


@pytest.mark.usefixtures("broken")
def test_trace_goes_to_the_ci_artifact_folder(tmp_path: Path) -> None:
    result = _invoke("validate", env={"CI_PROJECT_DIR": str(tmp_path)})
    assert result.exit_code == EXIT_INTERNAL
    assert len(list((tmp_path / ".renderer" / "traces").iterdir())) == 1


@pytest.mark.usefixtures("broken")
def test_unwritable_trace_folder_still_gives_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    result = _invoke("validate", env={"RENDERER_TRACE_DIR": str(not_a_folder)})
    assert result.exit_code == EXIT_INTERNAL
    assert "(nowhere:" in result.stderr and len(result.stderr.splitlines()) == 1


def test_interrupt_is_exit_130_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(roots, "find_root", interrupted)
    result = _invoke("validate", env={})
    assert result.exit_code == 130
    assert result.stderr == "error: interrupted; nothing was published\n"


def test_boundary_holds_in_a_real_process(tmp_path: Path) -> None:
    """`python -m renderer` with a platform file that makes the loader trip over a bug: still one line.

    The bug is simulated by a sitecustomize that breaks one function before the command runs."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import renderer.inputs.roots as r\n"
        "def _boom(*a, **k):\n    raise RuntimeError('simulated bug')\n"
        "r.find_root = _boom\n"
    )
    env = {"PYTHONPATH": f"{hook}{os.pathsep}{ROOT}", "RENDERER_TRACE_DIR": str(tmp_path / "t")}
    proc = run_renderer("validate", env=env)
    assert proc.returncode == EXIT_INTERNAL, proc.stderr
    assert proc.stderr.count("\n") == 1 and "internal error (RuntimeError)" in proc.stderr
