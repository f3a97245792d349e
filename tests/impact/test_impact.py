"""`renderer impact` on a real platform repo (a git copy of this project: config, examples and the
renderer itself) against a real environment repo (a bare remote) that `publish` filled first."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from renderer.adapters.gitlab import MergeRequests
from renderer.cli.impact import MARKER
from renderer.publish import bookkeeping
from tests.conftest import ROOT, edit, git, init_bare, run_renderer
from tests.fake_gitlab import OTHER_TOKEN, TOKEN, FakeGitLab

PROFILES = "platform-config/profiles"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(platform repo, bare env repo): the examples published into dev; one commit of the platform."""
    top = tmp_path_factory.mktemp("impact")
    plat = top / "platform"
    for name in ("environments", "platform-config", "policies", "examples", "renderer"):
        shutil.copytree(ROOT / name, plat / name, ignore=shutil.ignore_patterns("__pycache__"))
    git("init", "-q", "-b", "main", cwd=plat)
    git("add", "-A", cwd=plat)
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "base", cwd=plat)
    env = top / "env.git"
    init_bare(env)
    apps = [str(plat / "examples" / "apps" / a) for a in ("billing", "shop")]
    args = ["--root", str(plat), "--env-repo", str(env), "--env", "dev"]
    proc = run_renderer("publish", *args, *(x for a in apps for x in ("--app", a)))
    assert proc.returncode == 0, proc.stderr
    return plat, env


@pytest.fixture
def repo(world: tuple[Path, Path]) -> Iterator[tuple[Path, Path]]:
    """The shared platform repo, put back to its base commit after each test."""
    plat, _ = world
    yield world
    git("checkout", "-q", "main", cwd=plat)
    git("reset", "-q", "--hard", cwd=plat)
    git("clean", "-qfdx", cwd=plat)


def impact(
    world: tuple[Path, Path], *args: str, fmt: str = "json", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    plat, repo = world
    out = plat.parent / f"report.{fmt}"
    out.unlink(missing_ok=True)
    argv = [
        "--root",
        str(plat),
        "--base",
        "main",
        "--env-repo",
        str(repo),
        "--format",
        fmt,
        "--output",
        str(out),
    ]
    proc = run_renderer("impact", *argv, *args, env=env)
    return proc.returncode, out.read_text() if out.exists() else "", proc.stderr


def report(world: tuple[Path, Path], *args: str) -> dict[str, object]:
    code, text, err = impact(world, *args)
    assert code == 0, err
    body: dict[str, object] = json.loads(text)
    return body


def pairs(body: dict[str, object]) -> dict[str, dict[str, list[str]]]:
    items = body["pairs"]
    assert isinstance(items, list)
    return {p["scope"]: p for p in items}


def test_replicas_in_the_production_profile_change_exactly_prod_billing_and_shop(
    repo: tuple[Path, Path],
) -> None:
    plat, _ = repo
    git("checkout", "-q", "-b", "more-replicas", cwd=plat)
    edit(plat / PROFILES / "production.yaml", "replicas: 3", "replicas: 4")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "four", cwd=plat)
    git("checkout", "-q", "main", cwd=plat)  # the work tree is the base again: --head names the change
    body = report(repo, "--head", "more-replicas")
    found = pairs(body)
    assert sorted(found) == ["prod/billing", "prod/shop"]
    for pair in found.values():
        assert pair["why"] == [f"{PROFILES}/production.yaml"]
    assert found["prod/billing"]["objects"] == ["kubernetes/prod/billing/invoicer/deployment-invoicer.yaml"]
    assert found["prod/shop"]["objects"] == [  # web is autoscaled: its HPA owns the replica count
        "kubernetes/prod/shop/api/deployment-api.yaml",
        "kubernetes/prod/shop/worker/deployment-worker.yaml",
    ]
    diffs = [c["diff"] for c in body["diff"]["changes"]]  # type: ignore[index]
    assert all("-  replicas: 3\n+  replicas: 4\n" in d for d in diffs) and len(diffs) == 3
    assert body["changed_files"] == [f"{PROFILES}/production.yaml"]
    # the affected part of prod's resource graph: the changed apps' workloads, drawn whole
    (picture,) = body["pictures"].values()  # type: ignore[union-attr]
    assert sorted(body["pictures"]) == ["prod"]  # type: ignore[arg-type]
    assert picture.startswith("```mermaid\nflowchart") and "billing/invoicer" in picture


def test_a_module_of_shared_resources_reaches_the_shared_scopes(repo: tuple[Path, Path]) -> None:
    plat, _ = repo
    module = plat / "platform-config/modules/rds-instance/main.tf.json"
    data = json.loads(module.read_text())
    data["locals"] = {"engine_family": "postgres16"}
    module.write_text(json.dumps(data, indent=2))
    body = report(repo)
    found = pairs(body)
    assert sorted(found) == ["prod/_shared", "staging/_shared"]
    for pair in found.values():
        assert pair["modules"] == ["rds-instance"]
        assert pair["why"] == ["platform-config/modules/rds-instance/main.tf.json"]
        assert pair["objects"] == []  # the project is the same; Atlantis re-plans it
    assert body["other_scopes"] == [f"terraform/{env}/modules" for env in ("dev", "prod", "staging")]


def test_two_unrelated_files_each_pair_names_only_its_own(repo: tuple[Path, Path]) -> None:
    plat, _ = repo
    edit(plat / PROFILES / "production.yaml", "replicas: 3", "replicas: 5")
    edit(plat / PROFILES / "development.yaml", "replicas: 1", "replicas: 2")
    found = pairs(report(repo))
    assert sorted(found) == ["dev/billing", "dev/shop", "prod/billing", "prod/shop"]
    for scope, pair in found.items():
        expected = "development.yaml" if scope.startswith("dev/") else "production.yaml"
        assert pair["why"] == [f"{PROFILES}/{expected}"], scope


def test_a_comment_only_change_has_no_impact(repo: tuple[Path, Path]) -> None:
    plat, _ = repo
    edit(plat / PROFILES / "production.yaml", "replicas: 3", "replicas: 3  # reviewed in 2026")
    code, text, err = impact(repo, fmt="text")
    assert code == 0, err
    assert text.startswith("no impact: the work tree renders every stored app exactly as ")
    assert text.endswith(f"changed files: {PROFILES}/production.yaml\n")


def test_a_change_to_the_renderer_itself_shows_and_is_named(repo: tuple[Path, Path]) -> None:
    plat, _ = repo
    labels = "renderer/render/kubernetes/labels.py"
    edit(
        plat / labels,
        'MANAGED_BY = {f"{PREFIX}managed-by": "platform-renderer"}',
        'MANAGED_BY = {f"{PREFIX}managed-by": "platform-renderer", "tier": "x"}',
    )
    code, text, err = impact(repo, fmt="text")
    assert code == 0, err
    for env in ("dev", "staging", "prod"):
        for app in ("billing", "shop"):
            assert f"\n{env}/{app}: " in text
            assert f"changed outside the platform configuration: {labels}" in text
    assert "+    tier: x\n" in text


def test_an_app_that_newly_fails_a_policy_is_listed_and_sets_the_exit_code(repo: tuple[Path, Path]) -> None:
    plat, _ = repo
    edit(plat / PROFILES / "stateful-production.yaml", "replicas: 3", "replicas: 1")  # billing's ledger only
    code, text, err = impact(repo, fmt="json")
    assert code == 4, err
    body = json.loads(text)
    assert [(f["app"], f["category"]) for f in body["new_failures"]] == [("billing", "policy denied")]
    message = body["new_failures"][0]["message"]
    assert "production needs at least 2 replicas (from .render/apps/billing/score.yaml)" in message
    assert "/tmp" not in message and str(plat) not in message
    assert body["pairs"] == [] and body["still_failing"] == []  # shop renders the same on both sides
    with FakeGitLab() as gl:
        MergeRequests(gl.url, OTHER_TOKEN, "77").note(5, MARKER, "pasted by someone else")
        ci = {"CI_SERVER_URL": gl.url, "GITLAB_TOKEN": TOKEN, "CI_MERGE_REQUEST_PROJECT_ID": "77"}
        artifact = str(plat.parent / "impact.txt")
        mr = {**ci, "CI_MERGE_REQUEST_IID": "5"}
        code, note, err = impact(repo, "--post-note", "--artifact", artifact, fmt="markdown", env=mr)
        assert code == 4 and "note on !5: created" in err, err
        notes = {n["author"]["username"]: n["body"] for n in gl.notes[5]}
    assert "**Newly fails**: billing (policy denied, exit 4)" in note
    assert notes["renderer-bot"] == f"{MARKER}\n{note}" and notes["mallory"].endswith(
        "pasted by someone else"
    )
    assert TOKEN not in note + err
    assert "NEWLY FAILS: billing (policy denied, exit 4)" in Path(artifact).read_text()


def test_an_app_that_newly_fails_to_render_is_listed(repo: tuple[Path, Path]) -> None:
    plat, _ = repo
    (plat / "platform-config/resources/mongodb-in-cluster.yaml").unlink()  # billing's ledger asks for one
    code, text, err = impact(repo, fmt="text")
    assert code == 3, err
    assert "NEWLY FAILS: billing (invalid input, exit 3)" in text
    assert "no resource definition matches mongodb/default" in text
    assert "\nshop" not in text and "/shop:" not in text


def test_a_base_that_is_no_commit_is_a_usage_error(repo: tuple[Path, Path]) -> None:
    plat, env = repo
    proc = run_renderer("impact", "--root", str(plat), "--base", "nope", "--env-repo", str(env))
    assert proc.returncode == 2
    assert f"error: 'nope' is not a commit of the platform repo at {plat}" in proc.stderr


def test_a_platform_root_that_is_not_a_work_tree_is_a_usage_error(
    repo: tuple[Path, Path], tmp_path: Path
) -> None:
    _, env = repo
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "environments", copy / "environments")
    proc = run_renderer("impact", "--root", str(copy), "--base", "main", "--env-repo", str(env))
    assert proc.returncode == 2
    assert (
        f"error: {copy} is not the top of a git work tree: impact compares two commits of it" in proc.stderr
    )


def test_every_publish_records_what_each_app_depended_on(repo: tuple[Path, Path], tmp_path: Path) -> None:
    _, env = repo
    clone = tmp_path / "clone"
    git("clone", "-q", str(env), str(clone))
    record = bookkeeping.recorded_dependencies(bookkeeping.read_index(str(clone), "billing"))
    assert record is not None and sorted(record) == ["dev"]
    own, shared = record["dev"]
    assert {"environments/dev.yaml", f"{PROFILES}/development.yaml", "platform-config/trust.yaml"} <= set(
        own.uses
    )
    assert "policies/baseline/" in own.uses and f"{PROFILES}/production.yaml" in own.candidates
    assert own.uses == tuple(sorted(own.uses)) and "environments/dev.yaml" in shared.uses
    index = clone / ".render/apps/billing/index.json"
    old = json.loads(index.read_text())
    del old["version"], old["depends"]
    index.write_text(json.dumps(old))
    assert (
        bookkeeping.recorded_dependencies(bookkeeping.read_index(str(clone), "billing")) is None
    )  # version 1


def test_only_the_stored_apps_are_checked_out(world: tuple[Path, Path], tmp_path: Path) -> None:
    """`impact` reads the stored apps from a clone of the environment repo: their folders are on
    disk (each side's renderer reads them there); the rendered files are neither fetched nor
    written (most of the repo: 82,000 files at 1,000 apps)."""
    from renderer.cli.impact import _request

    plat, env = world
    req = _request(str(plat), "main", None, str(env), str(tmp_path))
    assert sorted(req.apps) == ["billing", "shop"] and req.head is None and req.base == "main"
    clone = tmp_path / "env-repo"
    assert (clone / bookkeeping.STORE / "billing" / "score.yaml").is_file()
    assert all(Path(d).is_dir() for d in req.app_dirs.values())
    assert not (clone / "kubernetes").exists() and not (clone / "catalog").exists()
