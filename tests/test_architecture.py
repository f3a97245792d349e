"""The layout is the architecture: import-linter holds the stage contracts in pyproject.toml."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_imports_follow_the_data_flow() -> None:
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout
