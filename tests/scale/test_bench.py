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


def test_the_benchmark_merges_what_a_publish_leaves_on_branches(tmp_path: Path) -> None:
    """Each step after the first publish starts from main holding everything: the Terraform and
    protected-environment branches merged, atlantis.yaml derived again where both changed it."""
    from bench import bench

    root = fleet.platform_root(str(tmp_path / "platform"))
    apps = fleet.generate(str(tmp_path / "apps"), 2, 1)
    repo = str(tmp_path / "env.git")
    bench.bare(repo)
    env = {**bench.bench_env(), "RENDERER_JOBS": "1"}
    args = [a for app in apps for a in ("--app", app)]
    bench.run(
        bench.renderer("publish", "--root", root, "--all-envs", "--quiet", "--env-repo", repo, *args), env=env
    )
    bench.merge_branches(repo, str(tmp_path / "work"), root)
    heads = subprocess.run(
        ["git", "--git-dir", repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert heads.stdout.split() == ["main"]
    atlantis = subprocess.run(
        ["git", "--git-dir", repo, "show", "main:atlantis.yaml"], capture_output=True, text=True, check=True
    ).stdout
    for env_id in ("dev", "qa", "staging", "prod"):
        assert f"dir: terraform/{env_id}/svc-0000" in atlantis
