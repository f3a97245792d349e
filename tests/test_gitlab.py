"""Merge requests through the real python-gitlab client against a loopback GitLab."""

from __future__ import annotations

import pytest

from renderer.adapters.gitlab import MergeRequests
from renderer.errors import PublishError
from tests.conftest import ROOT, git, run_renderer
from tests.fake_gitlab import TOKEN, FakeGitLab


def test_open_then_update_one_merge_request() -> None:
    with FakeGitLab() as gl:
        mrs = MergeRequests(gl.url, TOKEN, "platform/env")
        first = mrs("render/prod/shop", "main", "render(prod): shop @ 1", "one")
        second = mrs("render/prod/shop", "main", "render(prod): shop @ 2", "two")
        assert first == second and len(gl.mrs) == 1
        assert gl.mrs[0]["title"] == "render(prod): shop @ 2" and gl.mrs[0]["description"] == "two"


def test_sticky_note_is_updated_not_duplicated() -> None:
    with FakeGitLab() as gl:
        mrs = MergeRequests(gl.url, TOKEN, "platform/env")
        mrs("b", "main", "t", "d")
        mrs.note(1, "<!-- renderer -->", "first")
        mrs.note(1, "<!-- renderer -->", "second")
        assert [n["body"] for n in gl.notes[1]] == ["<!-- renderer -->\nsecond"]


def test_transient_5xx_is_retried() -> None:
    with FakeGitLab() as gl:
        gl.fail_next = 2
        url = MergeRequests(gl.url, TOKEN, "platform/env")("b", "main", "t", "d")
        assert url.endswith("/merge_requests/1")
        assert (
            sum(r.startswith("GET /api/v4/projects/platform%2Fenv/merge_requests") for r in gl.requests) == 3
        )


def test_persistent_5xx_is_reported_without_the_token() -> None:
    with FakeGitLab() as gl:
        gl.fail_next = 100
        with pytest.raises(PublishError) as err:
            MergeRequests(gl.url, TOKEN, "platform/env", retries=2)("b", "main", "t", "d")
        assert "GitLab merge request for b failed after" in str(err.value)
        assert TOKEN not in str(err.value)


def test_timeout_is_reported() -> None:
    with FakeGitLab() as gl:
        gl.delay = 1.5
        with pytest.raises(PublishError, match="GitLab merge request for b failed after"):
            MergeRequests(gl.url, TOKEN, "platform/env", timeout=0.3, retries=1)("b", "main", "t", "d")


def test_publish_opens_the_merge_request_for_protected_envs(bare_repo: object) -> None:
    with FakeGitLab() as gl:
        env = {
            "RENDERER_GITLAB_URL": gl.url,
            "RENDERER_GITLAB_TOKEN": TOKEN,
            "RENDERER_ENV_REPO_PROJECT": "platform/env",
            "CI_COMMIT_SHA": "feedbeef0001",
        }
        result = run_renderer(
            "publish",
            "--root",
            str(ROOT),
            "--env-repo",
            str(bare_repo),
            "--app",
            str(ROOT / "examples/apps/shop"),
            "--env",
            "prod",
            env=env,
        )
        assert result.returncode == 0, result.stderr
        assert "merge request http://127.0.0.1" in result.stdout
        assert TOKEN not in result.stdout + result.stderr
        assert len(gl.mrs) == 1
        mr = gl.mrs[0]
        assert mr["source_branch"] == "render/prod/shop" and mr["target_branch"] == "main"
        assert mr["title"] == "render(prod): shop @ feedbeef"
        assert "Source-Commit: feedbeef0001" in mr["description"]
        branch = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "render/prod/shop")
        assert "kubernetes/prod/shop/api/deployment-api.yaml" in branch
