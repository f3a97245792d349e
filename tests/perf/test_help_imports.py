"""`renderer --help` loads the command line alone: no command, engine or SDK until one runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import json, sys
from renderer.cli import main
try:
    main(["--help"], prog_name="renderer")
except SystemExit as exc:
    assert exc.code == 0, exc.code
print(json.dumps(sorted(sys.modules)))
"""
HEAVY = ("yaml", "gitlab", "boto3", "botocore", "regorus", "jsonschema", "jsonschema_rs", "rich", "jinja2")


def test_help_imports_no_command_and_no_heavy_library() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Commands:" in proc.stdout and "publish" in proc.stdout
    modules = json.loads(proc.stdout.splitlines()[-1])
    ours = [m for m in modules if m == "renderer" or m.startswith("renderer.")]
    assert ours == ["renderer", "renderer.cli", "renderer.cli.boundary", "renderer.errors"]
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
