"""`renderer --help` loads the command line alone: no command, engine or SDK until one runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_renderer
from tests.test_publish import make_app

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


def test_the_publish_command_starts_main_s_fetch_before_it_loads_the_renderer() -> None:
    """`renderer publish` starts fetching main, then imports the renderer proper
    (cli/publishing.py): the module that starts the fetch holds none of it, or the two would not
    run side by side (docs/decisions.md, "Main fetched while the renderer loads")."""
    probe = "import json, sys\nimport renderer.cli.publish\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout.splitlines()[-1])
    ours = {m for m in modules if m.startswith("renderer.")}
    assert ours <= {
        "renderer.adapters",
        "renderer.adapters.gitrepo",
        "renderer.cli",
        "renderer.cli.base",
        "renderer.cli.boundary",
        "renderer.cli.publish",
        "renderer.data",
        "renderer.errors",
        "renderer.publish",
        "renderer.publish.workspace",
    }, sorted(ours)
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []


NO_OP = """
import json, sys
from renderer.cli import main
try:
    main(sys.argv[1:], prog_name="renderer")
except SystemExit as exc:
    assert exc.code == 0, exc.code
print(json.dumps(sorted(sys.modules)))
"""
# what only a render or its checks use: a publish that changes nothing never loads them
RENDER_ONLY = (
    "renderer.checks.findings",
    "renderer.checks.rego.gatekeeper",
    "renderer.render.environment",
    "renderer.render.kubernetes",
    "renderer.publish.shards",
    "renderer.publish.pinning",  # and `--check-aws`'s: asked for, it renders
    "renderer.review.awscheck",
    "renderer.adapters.aws",
    "renderer.resolve.graph",  # the resolver
    "renderer.resolve.dependencies",
    "regorus",
    "detect_secrets",
    "jsonschema",  # it words schema errors; jsonschema-rs says "valid" without it
)


def test_a_publish_that_changes_nothing_loads_no_render_or_check(tmp_path: Path, bare_repo: Path) -> None:
    """An up-to-date publish costs a fetch and its bookkeeping; the render and check modules (and
    the policy engine) are imported only when something is rendered."""
    app = make_app(tmp_path / "apps", "shop", {"web": "hello"})
    args = ["publish", "--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "dev", "--app", str(app)]
    first = run_renderer(*args)
    assert first.returncode == 0, first.stderr
    proc = subprocess.run(
        [sys.executable, "-c", NO_OP, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stderr + proc.stdout
    modules = set(json.loads(proc.stdout.splitlines()[-1]))
    assert [m for m in RENDER_ONLY if m in modules] == []
    assert "concurrent.futures.process" not in modules  # the render's worker pool: imported when it starts
