"""Every limit on what an app brings: refused with the limit's name, set by the platform in trust.yaml."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from renderer.adapters import gitrepo
from renderer.errors import EXIT_INVALID
from renderer.model import Limits
from renderer.publish import bookkeeping
from tests.conftest import ROOT, git, located, write

HINT = "make it smaller; the platform team sets limits.{} in platform-config/trust.yaml"

SCORE = """apiVersion: score.dev/v1b1
metadata:
  name: {name}
containers:
{containers}
"""
CONTAINER = "  c{i}:\n    image: ghcr.io/example/app:1.0.0\n"


def _app(project: Path, name: str = "solo") -> Path:
    app = project / "examples" / "apps" / name
    for other in (project / "examples" / "apps").iterdir():
        if other != app:
            for path in sorted(other.rglob("*"), reverse=True):
                path.unlink() if not path.is_dir() else path.rmdir()
            other.rmdir()
    return app


def _limits(project: Path, **limits: int) -> None:
    trust = project / "platform-config" / "trust.yaml"
    text = (ROOT / "platform-config" / "trust.yaml").read_text()
    trust.write_text(text + "limits:\n" + "".join(f"  {k}: {v}\n" for k, v in limits.items()))


def _validate(cli: Callable[..., Result], project: Path) -> list[dict[str, object]]:
    result = cli("validate", "--root", str(project), "--format", "json")
    assert result.exit_code == EXIT_INVALID, result.output
    problems: list[dict[str, object]] = json.loads(result.stdout)["problems"]
    return problems


def _score(containers: int = 1, name: str = "solo", extra: str = "") -> str:
    body = "".join(CONTAINER.format(i=i) for i in range(containers))
    return SCORE.format(name=name, containers=body) + extra


def test_containers_per_workload(project: Path, cli: Callable[..., Result]) -> None:
    app = _app(project)
    write(app / "score.yaml", _score(containers=3))
    _limits(project, containers=2)
    assert _validate(cli, project) == [
        located(
            "examples/apps/solo/score.yaml",
            4,
            "containers",
            "3 containers in this workload: over the limit of 2 (limits.containers)",
            HINT.format("containers"),
            kind="platform",
        )
    ]
    _limits(project, containers=3)  # the platform raises it: the same app is fine
    assert cli("validate", "--root", str(project)).exit_code == 0


def test_resources_and_file_mounts_per_workload(project: Path, cli: Callable[..., Result]) -> None:
    app = _app(project)
    files = "    files:\n" + "".join(f"      /etc/f{i}:\n        content: x\n" for i in range(3))
    resources = "resources:\n" + "".join(f"  r{i}:\n    type: volume\n" for i in range(4))
    write(app / "score.yaml", _score().rstrip("\n") + "\n" + files + resources)
    _limits(project, resources=3, files=2)
    assert _validate(cli, project) == [
        located(
            "examples/apps/solo/score.yaml",
            1,
            "",
            "3 file mounts in this workload: over the limit of 2 (limits.files)",
            HINT.format("files"),
            kind="platform",
        ),
        located(
            "examples/apps/solo/score.yaml",
            14,
            "resources",
            "4 resources in this workload: over the limit of 3 (limits.resources)",
            HINT.format("resources"),
            kind="platform",
        ),
    ]


def test_workloads_per_app(project: Path, cli: Callable[..., Result]) -> None:
    app = _app(project)
    for i in range(3):
        write(app / f"score-{i}.yaml", _score(name=f"w{i}"))
    _limits(project, workloads=2)
    assert _validate(cli, project) == [
        located(
            "examples/apps/solo",
            0,
            "",
            "3 Score files (one workload each): over the limit of 2 (limits.workloads)",
            HINT.format("workloads"),
            kind="platform",
        )
    ]


def test_bytes_per_file_a_huge_file_is_never_read_whole(project: Path, cli: Callable[..., Result]) -> None:
    app = _app(project)
    write(app / "score.yaml", _score(extra=""))
    huge = app / "score-huge.yaml"
    with huge.open("wb") as out:  # 1 GB, sparse: costs no disk, and reading it whole would cost 1 GB
        out.truncate(1024**3)
    _limits(project, file_bytes=4096)
    assert _validate(cli, project) == [
        located(
            "examples/apps/solo/score-huge.yaml",
            0,
            "",
            "this path is larger than 4096 bytes (limits.file_bytes)",
            HINT.format("file_bytes"),
            kind="platform",
        )
    ]


def test_bytes_per_app(project: Path, cli: Callable[..., Result]) -> None:
    app = _app(project)
    for i in range(3):
        write(app / f"score-{i}.yaml", _score(name=f"w{i}") + "# " + "x" * 1000 + "\n")
    _limits(project, app_bytes=2500)
    problems = _validate(cli, project)
    assert problems == [
        located(
            "examples/apps/solo",
            0,
            "",
            "the app's files together are larger than 2500 bytes: over the limit of 2500 (limits.app_bytes)",
            HINT.format("app_bytes"),
            kind="platform",
        )
    ]


def test_entries_per_folder(project: Path, cli: Callable[..., Result]) -> None:
    app = _app(project)
    write(app / "score.yaml", _score())
    for i in range(12):
        (app / f"junk-{i:02}").touch()
    _limits(project, app_files=10)
    assert _validate(cli, project) == [
        located(
            "examples/apps/solo",
            0,
            "",
            "this path holds more than 10 entries (limits.app_files)",
            HINT.format("app_files"),
            kind="platform",
        )
    ]


@pytest.mark.parametrize(
    ("limit", "text", "line", "path", "message"),
    [
        (
            {"yaml_depth": 5},
            "    args: [[[[[[x]]]]]]\n",
            8,
            "containers.c0.args[0][0][0]",
            "the document is nested more than 5 levels deep (limits.yaml_depth)",
        ),
        (
            {"yaml_nodes": 50},
            "    args: [" + ", ".join(["x"] * 60) + "]\n",
            8,
            "containers.c0.args[35]",
            "the file expands to more than 50 values; each use of an alias counts (limits.yaml_nodes)",
        ),
    ],
)
def test_yaml_limits_are_the_platforms(
    project: Path,
    cli: Callable[..., Result],
    limit: dict[str, int],
    text: str,
    line: int,
    path: str,
    message: str,
) -> None:
    app = _app(project)
    write(app / "score.yaml", _score() + text)
    _limits(project, **limit)
    key = next(iter(limit))
    assert _validate(cli, project) == [
        located("examples/apps/solo/score.yaml", line, path, message, HINT.format(key), kind="yaml")
    ]


def test_a_limit_the_schema_does_not_know_is_refused(project: Path, cli: Callable[..., Result]) -> None:
    _limits(project, workload=3)
    problems = _validate(cli, project)
    assert [(p["file"], p["path"]) for p in problems] == [("platform-config/trust.yaml", "limits.workload")]
    assert "'workload' was unexpected" in str(problems[0]["message"])


def test_limits_hold_for_stored_apps_too(project: Path, bare_repo: Path, cli: Callable[..., Result]) -> None:
    """An app stored in the environment repo is read back under the same limits: over them, it is
    skipped with a warning and its last output kept."""
    app = _app(project)
    write(app / "score.yaml", _score(containers=2))
    args = ("publish", "--root", str(project), "--env-repo", str(bare_repo), "--env", "dev")
    assert cli(*args, "--app", str(app)).exit_code == 0, "first publish"
    _limits(project, containers=1)
    result = cli(*args, "--all-apps")
    assert result.exit_code == 0, result.output
    assert "SKIPPED app 'solo'" in result.stderr and "limits.containers" in result.stderr


def test_a_stored_app_at_the_entry_limit_loads_with_its_index_beside_it(
    project: Path, bare_repo: Path, cli: Callable[..., Result], tmp_path: Path
) -> None:
    """The stored folder holds the app's inputs and its `index.json`: an app at `app_files` loads
    back from a full checkout (which has the index on disk) as from a publish's partial one."""
    app = _app(project)
    for name in ("a", "b", "c"):
        write(app / f"score-{name}.yaml", _score(name=f"wl-{name}"))
    _limits(project, app_files=3)
    args = ("publish", "--root", str(project), "--env-repo", str(bare_repo), "--env", "dev")
    first = cli(*args, "--app", str(app))
    assert first.exit_code == 0, first.output
    result = cli(*args, "--all-apps")
    assert result.exit_code == 0 and "SKIPPED" not in result.output, result.output
    clone = tmp_path / "full"
    git("clone", "-q", str(bare_repo), str(clone))
    assert (clone / ".render/apps/solo/index.json").is_file()
    stored, broken = bookkeeping.stored_apps(gitrepo.local(str(clone)), Limits(app_files=3))
    assert (sorted(stored), broken) == (["solo"], {})
