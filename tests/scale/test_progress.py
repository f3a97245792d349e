"""Progress on stderr: bars on a terminal, a line per stage in logs, nothing with --quiet."""

from __future__ import annotations

import io
from pathlib import Path

from renderer.cli import progress
from tests.conftest import ROOT, run_renderer, write


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_stage_when_it_ends() -> None:
    ticks = iter([10.0, 12.5, 20.0, 20.0])  # render starts, ends; commit starts, ends
    out = io.StringIO()
    shown = progress.reporter(False, out)
    assert isinstance(shown, progress.Lines)
    shown.clock = lambda: next(ticks)
    shown("render", 0, 500)
    shown("render", 250, 500)  # not finished: nothing yet
    assert out.getvalue() == ""
    shown("render", 500, 500)
    shown("commit", 1, 1)
    assert out.getvalue() == "render: 500 in 2.5 s (200/s)\ncommit: 1 in 0.0 s\n"


def test_a_terminal_gets_bars_with_count_and_rate() -> None:
    out = Tty()
    shown = progress.reporter(False, out)
    assert isinstance(shown, progress.Bars)
    shown("write", 0, 1200)
    shown("write", 1200, 1200)
    shown.close()
    assert "write" in out.getvalue() and "1200/1200" in out.getvalue()


def test_quiet_says_nothing() -> None:
    out = Tty()
    shown = progress.reporter(True, out)
    shown("render", 1, 1)
    shown.close()
    assert out.getvalue() == ""


def test_publish_reports_its_stages_in_a_log_and_not_when_quiet(tmp_path: Path, bare_repo: Path) -> None:
    app = tmp_path / "shop"
    write(
        app / "score.yaml",
        "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers:\n"
        "  main: {image: ghcr.io/example/web:1.0.0}\n",
    )
    argv = ["publish", "--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "dev", "--app", str(app)]
    shown = run_renderer(*argv)
    assert shown.returncode == 0, shown.stderr
    stages = [line.split(":")[0] for line in shown.stderr.splitlines()]
    assert stages == ["load apps", "fetch", "checkout", "render", "write", "commit", "push main"], (
        shown.stderr
    )
    assert "render: 1 in " in shown.stderr
    write(app / "score.yaml", (app / "score.yaml").read_text().replace("1.0.0", "1.0.1"))
    quiet = run_renderer(*argv, "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and "main (dev): " in quiet.stdout
