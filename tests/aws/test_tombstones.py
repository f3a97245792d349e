"""`renderer check --env-repo`: whether a tombstoned Terraform project was destroyed, from Atlantis's
commit status on the commit that emptied it (never from state). Real env repo (bare remote), real
python-gitlab against the loopback GitLab, the rest of `check` against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.atlantis.conftest import settings
from tests.aws.proxy import FaultProxy
from tests.conftest import ROOT, git, run_renderer
from tests.fake_gitlab import FakeGitLab

SHOP = str(ROOT / "examples/apps/shop")
PROJECT = "terraform/staging/shop/main.tf.json"


@pytest.fixture
def gitlab(bare_repo: Path) -> Iterator[FakeGitLab]:
    with FakeGitLab(bare_repo) as gl:
        yield gl


def renderer(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = run_renderer(*args, "--root", str(ROOT), env=env)
    return proc.returncode, proc.stdout, proc.stderr


def atlantis_merges(bare: Path) -> str:
    """Atlantis applied the Terraform merge request and merged it (`automerge`): its head, now on main."""
    head = git("--git-dir", str(bare), "rev-parse", "refs/heads/atlantis/staging/shop")
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", head)
    return head


def test_check_reports_a_tombstone_destroyed_only_once_atlantis_applied_it(
    aws: FaultProxy, bare_repo: Path, gitlab: FakeGitLab
) -> None:
    code, _, err = renderer("publish", "--env-repo", str(bare_repo), "--app", SHOP, "--env", "staging")
    assert code == 0, err
    atlantis_merges(bare_repo)
    remove = ("--remove-app", "shop", "--allow-mass-delete")  # shop is all staging holds
    code, _, err = renderer("publish", "--env-repo", str(bare_repo), *remove, "--env", "staging")
    assert code == 0, err
    emptying = atlantis_merges(bare_repo)
    project = git("--git-dir", str(bare_repo), "show", f"main:{PROJECT}")
    assert '"//": "emptied by platform-renderer"' in project
    check = ("check", "--env", "staging", "--env-repo", str(bare_repo))

    code, out, err = renderer(*check, env=settings(gitlab))
    assert code == 4, err  # moto holds none of staging's secrets: that part of the check fails as it should
    assert (
        f"tombstone staging/shop: not-applied (no Atlantis status on {emptying[:12]}: "
        "the destroy has not been applied (nor planned))"
    ) in out

    gitlab.set_status(emptying, "atlantis/plan", "success")
    gitlab.set_status(emptying, "atlantis/apply", "failed")
    code, out, err = renderer(*check, env=settings(gitlab))
    assert "tombstone staging/shop: apply-failed (atlantis/apply failed: see its merge request)" in out

    gitlab.set_status(emptying, "atlantis/apply", "success")
    code, out, err = renderer(*check, "--format", "json", env=settings(gitlab))
    found = {t["project"]: t for t in json.loads(out)["tombstones"]}
    assert sorted(found) == ["staging/_shared", "staging/shop"]  # shop's shared resources went with it
    assert found["staging/shop"] == {
        "project": "staging/shop",
        "path": PROJECT,
        "emptied_by": emptying,
        "status": "destroyed",
        "detail": "atlantis/apply succeeded; let it go: "
        "publish --all-apps --env staging --destroyed staging/shop",
    }


def test_check_env_repo_needs_gitlab(aws: FaultProxy, bare_repo: Path) -> None:
    code, out, err = renderer("check", "--env", "staging", "--env-repo", str(bare_repo))
    assert code == 2
    assert "error: --env-repo asks GitLab for Atlantis's statuses: set RENDERER_GITLAB_URL or " in err
