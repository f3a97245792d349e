"""`renderer validate --spec`: score-go's verdict on public Score files, with no platform around."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from renderer.errors import EXIT_INVALID
from renderer.inputs import spec
from tests.conftest import git, write

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ROOT / "tests" / "cases" / "score-public"
INDEX: list[dict[str, object]] = yaml.safe_load((PUBLIC / "index.yaml").read_text(encoding="utf-8"))
VALID = [c for c in INDEX if c["upstream"] == "valid"]


def _ids(case: dict[str, object]) -> str:
    return str(case["case"])


def test_index_lists_every_case_with_its_source() -> None:
    assert sorted(str(c["case"]) for c in INDEX) == sorted(p.name for p in PUBLIC.iterdir() if p.is_dir())
    for case in INDEX:
        source = case["source"]
        assert isinstance(source, dict) and set(source) == {"repo", "path", "commit"}
        assert len(str(source["commit"])) == 40 and case["upstream"] in ("valid", "invalid")
        assert (PUBLIC / str(case["case"]) / str(case["file"])).is_file()
    assert len(VALID) >= 10 and len(INDEX) - len(VALID) >= 10


@pytest.mark.parametrize("case", INDEX, ids=_ids)
def test_spec_verdict_is_upstreams(case: dict[str, object], cli: Callable[..., Result]) -> None:
    result = cli("validate", "--spec", "--format", "json", str(PUBLIC / str(case["case"])))
    report = json.loads(result.output)
    if case["upstream"] == "valid":
        assert (result.exit_code, report) == (0, {"ok": True, "score_files": 1})
        return
    assert result.exit_code == EXIT_INVALID and report["ok"] is False
    for problem in report["problems"]:
        assert problem["file"].endswith(f"{case['case']}/{case['file']}") and problem["line"] > 0
        assert problem["path"]


@pytest.mark.parametrize("case", VALID, ids=_ids)
def test_with_the_platform_problems_are_not_spec_problems(
    case: dict[str, object], cli: Callable[..., Result]
) -> None:
    """The same files, validated the normal way against the shipped platform: what they report is
    the platform's (policies, definitions, the renderer's own rules), recorded in index.yaml."""
    expected = case["with_platform"]
    assert isinstance(expected, dict)
    result = cli("validate", "--root", str(ROOT), "--format", "json", str(PUBLIC / str(case["case"])))
    report = json.loads(result.output)
    assert report["ok"] is False and report["error"] == expected["error"]
    messages = [p["message"] for p in report["problems"]]
    assert any(str(expected["message"]) in m for m in messages), messages
    # no problem the platform run reports is one the spec check reports, and each says so
    assert spec.check_file(str(PUBLIC / str(case["case"]) / str(case["file"]))) == []
    allowed = {"InputError": {"platform"}, "PolicyDenied": {"policy", "schema"}}[str(expected["error"])]
    assert {p["kind"] for p in report["problems"]} <= allowed, report["problems"]


@pytest.mark.parametrize("case", [c for c in INDEX if c["upstream"] == "invalid"], ids=_ids)
def test_with_the_platform_spec_problems_are_labelled_spec(
    case: dict[str, object], cli: Callable[..., Result], tmp_path: Path
) -> None:
    """An invalid file validated the normal way: its spec problems are `spec`, the same places
    `--spec` names; anything else the renderer adds is labelled as its own kind."""
    app = tmp_path / "app"
    shutil.copytree(PUBLIC / str(case["case"]), app)
    result = cli("validate", "--root", str(ROOT), "--format", "json", str(app))
    report = json.loads(result.output)
    assert result.exit_code == EXIT_INVALID, result.output
    kinds = {p["path"]: p["kind"] for p in report["problems"]}
    spec_paths = {p.path for p in spec.check_file(str(app / str(case["file"])))}
    assert {path for path, kind in kinds.items() if kind == "spec"} <= spec_paths | {""}
    assert any(kind in ("spec", "yaml") for kind in kinds.values()), report["problems"]
    assert set(kinds.values()) <= {"yaml", "spec", "platform"}


SPEC_MESSAGES = [
    ("invalid-placeholder-malformed", "containers.example.variables.DEPENDENCY_URL", "is malformed"),
    ("invalid-placeholder-no-resource", "containers.example.variables.DEPENDENCY_URL", "names no resource"),
    ("invalid-placeholder-root", "containers.example.variables.DEPENDENCY_URL", "starts with 'cheese'"),
    ("invalid-volume-source-undeclared", 'containers.first.volumes["/data"].source', "'missing'"),
    ("invalid-params-undeclared-resource", "resources.route.params.host", "'dns-zone'"),
    ("invalid-before-self", "containers.hello.before.hello", "lists itself in 'before'"),
    ("invalid-before-unknown", "containers.hello.before.migrate", "no container of this workload"),
    ("invalid-before-cycle", "containers.hello.before", "form a cycle"),
    ("invalid-deprecated-list-no-target", "containers.web.files[1]", "needs 'target'"),
    ("invalid-map-volume-read-only", 'containers.first.volumes["/data"].read_only', "unknown field"),
]


@pytest.mark.parametrize(("case", "path", "fragment"), SPEC_MESSAGES)
def test_each_problem_names_file_line_and_path(case: str, path: str, fragment: str) -> None:
    problems = spec.check_file(str(next((PUBLIC / case).glob("score*.yaml"))))
    assert [(p.path, fragment in p.message) for p in problems] == [(path, True)]


def test_text_output_and_app_directories(cli: Callable[..., Result], tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(PUBLIC / "compose-01-hello" / "score.yaml", app / "score.yaml")
    write(app / "score-bad.yaml", "apiVersion: score.dev/v1b1\nmetadata: {name: ok}\n")
    write(app / "overrides" / "dev" / "hello-world.yaml", "not: [checked\n")  # overrides are not spec
    result = cli("validate", "--spec", str(app))
    assert result.exit_code == EXIT_INVALID
    assert result.output.splitlines() == [
        f"spec: {app}/score-bad.yaml:1: 'containers' is a required property (see the schema score-v1b1)",
        "1 problem(s) found (1 spec)",
    ]
    (app / "score-bad.yaml").unlink()
    assert cli("validate", "--spec", str(app)).output == (
        "ok: 1 Score file(s) follow the Score specification (score.dev/v1b1)\n"
    )


def test_usage_and_reader_problems(cli: Callable[..., Result], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("validate", "--spec", str(empty)).output.splitlines()[0] == (
        f"spec: {empty}: no score*.yaml files in this directory"
    )
    root = cli("validate", "--spec", "--root", str(ROOT), str(empty))
    assert root.exit_code == 2 and "--spec reads no platform: leave out --root" in root.output
    dup = write(tmp_path / "score.yaml", "apiVersion: a\napiVersion: b\n")
    assert "duplicate key 'apiVersion'" in cli("validate", "--spec", str(dup)).output
    blank = write(tmp_path / "score-blank.yaml", "# nothing\n")
    assert f"{blank}: holds no YAML document" in cli("validate", "--spec", str(blank)).output
    big = write(tmp_path / "score-big.yaml", "x" * (1024 * 1024 + 1))
    assert "(limits.file_bytes)" in cli("validate", "--spec", str(big)).output


def _hook() -> dict[str, object]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["renderer-validate-spec"]
    hook: dict[str, object] = hooks[0]
    return hook


def _app_repo(tmp_path: Path) -> Path:
    """An app repo with no platform root anywhere: a valid and an invalid Score file, one other file."""
    repo = tmp_path / "app-repo"
    shutil.copytree(PUBLIC / "compose-08-service-port", repo / "svc")
    shutil.copy(PUBLIC / "invalid-before-cycle" / "score.yaml", repo / "score.yaml")
    write(repo / "values.yaml", "not: [a score file\n")
    git("init", "-q", cwd=repo)
    git("add", ".", cwd=repo)
    return repo


def test_hook_entry_runs_as_pre_commit_runs_it(tmp_path: Path) -> None:
    hook = _hook()
    assert hook["language"] == "python" and hook["pass_filenames"] is True
    repo = _app_repo(tmp_path)
    files = [f for f in git("ls-files", cwd=repo).split() if re.search(str(hook["files"]), f)]
    assert files == ["score.yaml", "svc/scoreB.yaml"]
    entry = shlex.split(str(hook["entry"]))
    assert entry[0] == "renderer"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERER_")}
    env["PYTHONPATH"] = str(ROOT)  # this checkout, as pre-commit's venv would have it installed
    proc = subprocess.run(
        [sys.executable, "-m", "renderer", *entry[1:], *files],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == EXIT_INVALID, proc.stderr
    assert proc.stderr.splitlines() == [
        "spec: score.yaml:13 at containers.hello.before: the 'before' entries form a cycle "
        "(containers on or between cycles: hello, sidecar)",
        "1 problem(s) found (1 spec)",
    ]
    ok = subprocess.run(
        [sys.executable, "-m", "renderer", *entry[1:], "svc/scoreB.yaml"],
        cwd=repo,
        env=env,
        capture_output=True,
    )
    assert ok.returncode == 0, ok.stderr


@pytest.mark.skipif(importlib.util.find_spec("pre_commit") is None, reason="pre-commit is not installed")
def test_pre_commit_try_repo(tmp_path: Path) -> None:
    """pre-commit builds its own venv from this checkout and runs the hook on an app repo."""
    repo = _app_repo(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERER_") and k != "PYTHONPATH"}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "renderer-validate-spec", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "the 'before' entries form a cycle" in proc.stdout
    assert "svc/scoreB.yaml" not in proc.stdout and "values.yaml" not in proc.stdout
