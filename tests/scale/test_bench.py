"""The benchmark's fleet renders and passes every check at a tiny size (the benchmark runs by hand)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import fleet
from tests.conftest import ROOT


@pytest.mark.parametrize("stage", ["checks", "secrets"])
def test_the_generated_fleet_passes_the_checks_in_four_environments(tmp_path: Path, stage: str) -> None:
    root = fleet.platform_root(str(tmp_path / "platform"))
    assert sorted(os.listdir(os.path.join(root, "environments"))) == [
        "dev.yaml",
        "prod.yaml",
        "qa.yaml",
        "staging.yaml",
    ]
    apps = fleet.generate(str(tmp_path / "apps"), 2, 2)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.stages", stage, root, *apps],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "RENDERER_JOBS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seconds, peak = (float(x) for x in proc.stdout.split())
    assert seconds > 0 and peak > 10


def test_the_changes_the_benchmark_makes(tmp_path: Path) -> None:
    root = fleet.platform_root(str(tmp_path / "platform"))
    [app] = fleet.generate(str(tmp_path / "apps"), 1, 1)
    fleet.change_workload(app)
    assert ":1.0.1" in Path(app, "score-w0.yaml").read_text()
    fleet.change_platform(root)
    log = subprocess.run(
        ["git", "-C", root, "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    assert log.stdout.splitlines() == ["elasticsearch 8.15.4", "platform"]
