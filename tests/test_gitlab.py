"""Merge requests through the real python-gitlab client against a loopback GitLab."""

from __future__ import annotations

import pytest

from renderer.adapters.gitlab import MergeRequests
from renderer.errors import PublishError
from tests.conftest import ROOT, git, run_renderer
from tests.fake_gitlab import OTHER_TOKEN, TOKEN, FakeGitLab


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


MARK = "<!-- platform-renderer:diff -->"


def test_a_note_is_created_then_updated_in_place() -> None:
    with FakeGitLab() as gl:
        mrs = MergeRequests(gl.url, TOKEN, "42")
        assert mrs.note(3, MARK, "first run") == "created"
        first_id = gl.notes[3][0]["id"]
        assert mrs.note(3, MARK, "second run") == "updated"
        assert [(n["id"], n["body"]) for n in gl.notes[3]] == [(first_id, f"{MARK}\nsecond run")]
        assert gl.notes[3][0]["author"]["username"] == "renderer-bot"
        assert sum(r.startswith("PUT /api/v4/projects/42/merge_requests/3/notes/") for r in gl.requests) == 1


def test_an_unchanged_note_is_not_written_again() -> None:
    with FakeGitLab() as gl:
        mrs = MergeRequests(gl.url, TOKEN, "42")
        mrs.note(3, MARK, "same")
        assert mrs.note(3, MARK, "same") == "updated"
        assert not any(r.startswith("PUT") for r in gl.requests) and len(gl.notes[3]) == 1


def test_a_foreign_note_holding_the_marker_is_left_alone() -> None:
    """Anyone can paste the hidden marker into a comment: only the token's own notes are ours."""
    with FakeGitLab() as gl:
        MergeRequests(gl.url, OTHER_TOKEN, "42").note(3, MARK, "not the renderer's")
        mrs = MergeRequests(gl.url, TOKEN, "42")
        assert mrs.note(3, MARK, "the diff") == "created"
        assert mrs.note(3, MARK, "the diff, again") == "updated"
        by_author = {n["author"]["username"]: n["body"] for n in gl.notes[3]}
        assert by_author == {
            "mallory": f"{MARK}\nnot the renderer's",
            "renderer-bot": f"{MARK}\nthe diff, again",
        }
        assert "GET /api/v4/user" in gl.requests


def test_a_note_is_retried_through_a_5xx() -> None:
    with FakeGitLab() as gl:
        gl.fail_next = 2
        assert MergeRequests(gl.url, TOKEN, "42").note(3, MARK, "body") == "created"
        assert [n["body"] for n in gl.notes[3]] == [f"{MARK}\nbody"]
        assert gl.requests.count("GET /api/v4/user") == 3  # failed twice, then answered


def test_a_note_that_keeps_failing_is_reported_without_the_token() -> None:
    with FakeGitLab() as gl:
        gl.fail_next, gl.fail_status = 100, 503
        with pytest.raises(PublishError) as err:
            MergeRequests(gl.url, TOKEN, "42", retries=1).note(3, MARK, "body")
        assert gl.requests == ["GET /api/v4/user"] * 2  # the first try and one retry: bounded, no more
        assert str(err.value) == (
            "GitLab note on !3 failed (HTTP 503: retried up to 1 times where that could help): "
            "503: 503 failing"
        )
        assert TOKEN not in str(err.value)


def test_a_note_too_big_is_refused_before_it_is_sent() -> None:
    with FakeGitLab() as gl:
        with pytest.raises(PublishError) as err:
            MergeRequests(gl.url, TOKEN, "42").note(3, MARK, "x" * (1_000_000 - len(MARK)))
        assert str(err.value) == (
            "the note for !3 is 1,000,001 characters; GitLab takes at most 1,000,000 in one note: shorten it "
            "(renderer diff --limit) and attach the full diff as an artifact"
        )
        assert gl.requests == [] and gl.notes == {}
        assert MergeRequests(gl.url, TOKEN, "42").note(3, MARK, "x" * (999_999 - len(MARK))) == "created"
        assert len(gl.notes[3][0]["body"]) == 1_000_000


def test_transient_5xx_is_retried() -> None:
    with FakeGitLab() as gl:
        gl.fail_next = 2
        url = MergeRequests(gl.url, TOKEN, "platform/env")("b", "main", "t", "d")
        assert url.endswith("/merge_requests/1")
        assert (
            sum(r.startswith("GET /api/v4/projects/platform%2Fenv/merge_requests") for r in gl.requests) == 3
        )


def _lists(gl: FakeGitLab) -> int:
    return sum(r.startswith("GET /api/v4/projects/platform%2Fenv/merge_requests") for r in gl.requests)


def test_persistent_5xx_is_reported_without_the_token() -> None:
    with FakeGitLab() as gl:
        gl.fail_next = 100
        with pytest.raises(PublishError) as err:
            MergeRequests(gl.url, TOKEN, "platform/env", retries=2)("b", "main", "t", "d")
        assert str(err.value) == (
            "GitLab merge request for b failed (HTTP 502: retried up to 2 times where that could help): "
            "502: 502 failing"
        )
        assert _lists(gl) == 3  # the first try and python-gitlab's two retries, no more
        assert TOKEN not in str(err.value)


def test_rate_limit_waits_as_long_as_retry_after_says() -> None:
    with FakeGitLab() as gl:
        gl.fail_next, gl.fail_status, gl.retry_after = 1, 429, "1"
        url = MergeRequests(gl.url, TOKEN, "platform/env")("b", "main", "t", "d")
        assert url.endswith("/merge_requests/1") and _lists(gl) == 2
        assert gl.times[1] - gl.times[0] >= 0.95  # python-gitlab's own backoff would be 0.1 s


def test_rate_limit_that_never_lifts_is_reported() -> None:
    with FakeGitLab() as gl:
        gl.fail_next, gl.fail_status, gl.retry_after = 100, 429, "0"
        with pytest.raises(
            PublishError, match=r"^GitLab merge request for b failed \(HTTP 429: retried up to 1 "
        ):
            MergeRequests(gl.url, TOKEN, "platform/env", retries=1)("b", "main", "t", "d")
        assert _lists(gl) == 2


def test_retry_after_as_a_date_is_an_error_not_a_crash() -> None:
    """RFC 9110 allows an HTTP date in Retry-After; python-gitlab reads only seconds."""
    with FakeGitLab() as gl:
        gl.fail_next, gl.fail_status, gl.retry_after = 1, 429, "Wed, 21 Oct 2037 07:28:00 GMT"
        date = r"^GitLab merge request for b failed \(retried .*: invalid literal for int\(\)"
        with pytest.raises(PublishError, match=date):
            MergeRequests(gl.url, TOKEN, "platform/env")("b", "main", "t", "d")


def test_client_errors_are_not_retried() -> None:
    with FakeGitLab() as gl:
        with pytest.raises(PublishError) as err:
            MergeRequests(gl.url, "glpat-wrong-token-0000", "platform/env")("b", "main", "t", "d")
        assert str(err.value).startswith("GitLab merge request for b failed (HTTP 401: ")
        assert "glpat-wrong-token-0000" not in str(err.value)
        assert _lists(gl) == 1


def test_a_slow_answer_is_retried_then_succeeds() -> None:
    with FakeGitLab() as gl:
        gl.delay, gl.slow_next = 1.0, 1
        url = MergeRequests(gl.url, TOKEN, "platform/env", timeout=0.3)("b", "main", "t", "d")
        assert url.endswith("/merge_requests/1") and _lists(gl) == 2 and len(gl.mrs) == 1


def test_timeout_is_reported() -> None:
    with FakeGitLab() as gl:
        gl.delay = 1.0
        with pytest.raises(PublishError) as err:
            MergeRequests(gl.url, TOKEN, "platform/env", timeout=0.3, retries=1)("b", "main", "t", "d")
        assert str(err.value).startswith(
            "GitLab merge request for b failed (retried up to 1 times where that could help): "
        )
        assert "Read timed out. (read timeout=0.3)" in str(err.value)
        assert _lists(gl) == 2


def test_a_create_that_went_through_before_its_timeout_is_not_duplicated() -> None:
    """python-gitlab retries a POST that timed out; GitLab answers the second 409: the first MR is ours."""
    with FakeGitLab() as gl:
        gl.delay, gl.slow_next, gl.late_posts = 1.0, 0, 1
        url = MergeRequests(gl.url, TOKEN, "platform/env", timeout=0.3)("b", "main", "t", "d")
        assert url.endswith("/merge_requests/1") and len(gl.mrs) == 1
        posts = [r for r in gl.requests if r.startswith("POST")]
        assert len(posts) == 2 and _lists(gl) == 2  # the list, the create twice, the list again


def test_a_conflict_that_is_not_our_merge_request_is_reported() -> None:
    with FakeGitLab() as gl:
        gl.mrs.append({"iid": 1, "state": "opened", "source_branch": "b", "target_branch": "other"})
        with pytest.raises(PublishError) as err:
            MergeRequests(gl.url, TOKEN, "platform/env")("b", "main", "t", "d")
        assert str(err.value) == (
            "GitLab merge request for b failed (HTTP 409: retried up to 3 times where that could help): "
            "409: ['Another open merge request already exists for this source branch: !1']"
        )


def test_gitlab_timeout_comes_from_the_environment(bare_repo: object) -> None:
    """RENDERER_GITLAB_TIMEOUT reaches the client: a GitLab slower than it fails the publish (exit 5)."""
    with FakeGitLab() as gl:
        gl.delay = 1.5
        env = {
            "RENDERER_GITLAB_URL": gl.url,
            "RENDERER_GITLAB_TOKEN": TOKEN,
            "RENDERER_ENV_REPO_PROJECT": "platform/env",
            "RENDERER_GITLAB_TIMEOUT": "0.2",
        }
        args = ["publish", "--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "prod"]
        result = run_renderer(*args, "--app", str(ROOT / "examples/apps/shop"), env=env)
        assert result.returncode == 5, result.stderr
        assert (
            "error: GitLab merge request for render/prod/shop failed (retried up to 3 times" in result.stderr
        )
        assert "read timeout=0.2" in result.stderr and "Traceback" not in result.stderr
        assert TOKEN not in result.stdout + result.stderr


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
