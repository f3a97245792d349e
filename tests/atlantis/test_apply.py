"""The platform bot's step: `renderer atlantis apply` comments `atlantis apply` once Atlantis's plan
of the renderer's own Terraform merge request has succeeded, once per plan, and on nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import gitlab
import pytest

from renderer.adapters.gitlab import OpenRequest, Status
from renderer.publish import atlantis
from tests.atlantis.conftest import settings
from tests.conftest import ROOT, run_renderer
from tests.fake_gitlab import OTHER_TOKEN, FakeGitLab
from tests.test_publish import pub, store_app

DIRECT = frozenset({"dev", "staging"})


def bot(gl: FakeGitLab, *args: str) -> subprocess.CompletedProcess[str]:
    return run_renderer("atlantis", "apply", "--root", str(ROOT), "--format", "json", *args, env=settings(gl))


def atlantis_sets(gl: FakeGitLab, mr_iid: int, name: str, state: str) -> None:
    """Atlantis, with its own token, sets a status on the merge request's head (python-gitlab)."""
    client = gitlab.Gitlab(gl.url, private_token=OTHER_TOKEN)
    project = client.projects.get("p/env", lazy=True)
    sha = project.mergerequests.get(mr_iid).sha
    project.commits.get(sha, lazy=True).statuses.create({"name": name, "state": state})


def test_the_bot_applies_its_dev_terraform_once_the_plan_succeeded(bare_repo: Path, tmp_path: Path) -> None:
    app = store_app(tmp_path)
    with FakeGitLab(repo=bare_repo) as gl:
        done = pub("--env-repo", str(bare_repo), "--app", str(app), "--env", "dev", env=settings(gl))
        assert done.returncode == 0, done.stderr
        (mr,) = gl.mrs
        waiting = bot(gl, "--wait", "0")
        assert waiting.returncode == 5, waiting.stderr
        assert [r["action"] for r in json.loads(waiting.stdout)] == ["wait"]
        assert gl.notes.get(mr["iid"], []) == []  # no plan yet: nothing asked
        atlantis_sets(gl, mr["iid"], "atlantis/plan", "running")
        atlantis_sets(gl, mr["iid"], "atlantis/plan", "success")
        applied = bot(gl, "--wait", "0")
        assert applied.returncode == 0, applied.stderr
        (row,) = json.loads(applied.stdout)
        assert row["action"] == "applied" and row["branch"] == "atlantis/dev/store"
        assert [n["body"] for n in gl.notes[mr["iid"]]] == ["atlantis apply"]
        again = bot(gl, "--wait", "0")  # the same plan: asked already, not twice
        assert again.returncode == 0 and json.loads(again.stdout)[0]["action"] == "done"
        assert len(gl.notes[mr["iid"]]) == 1
        atlantis_sets(gl, mr["iid"], "atlantis/apply", "success")
        applied_now = bot(gl, "--wait", "0", "--format", "text")
        assert "done: atlantis/apply is success" in applied_now.stdout


def test_the_bot_waits_for_a_plan_that_finishes_while_it_waits(bare_repo: Path, tmp_path: Path) -> None:
    app = store_app(tmp_path)
    with FakeGitLab(repo=bare_repo) as gl:
        assert (
            pub("--env-repo", str(bare_repo), "--app", str(app), "--env", "dev", env=settings(gl)).returncode
            == 0
        )
        argv = [
            sys.executable,
            "-m",
            "renderer",
            "atlantis",
            "apply",
            "--root",
            str(ROOT),
            "--format",
            "json",
        ]
        waiting = subprocess.Popen(
            [*argv, "--wait", "60", "--interval", "0.2"],
            env={**os.environ, **settings(gl)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not any("/statuses" in r for r in gl.requests) and time.monotonic() < deadline:
            time.sleep(0.1)  # it has looked once and found no plan
        atlantis_sets(gl, 1, "atlantis/plan", "success")
        out, err = waiting.communicate(timeout=90)
        assert waiting.returncode == 0, err
        assert json.loads(out)[0]["action"] == "applied"
        assert [n["body"] for n in gl.notes[1]] == ["atlantis apply"]


def test_without_gitlab_settings_it_says_which_are_needed() -> None:
    proc = run_renderer("atlantis", "apply", "--root", str(ROOT))
    assert (
        proc.returncode == 2 and "RENDERER_ENV_REPO_PROJECT" in proc.stderr and "Traceback" not in proc.stderr
    )


PLANNED = OpenRequest(
    iid=3,
    branch="atlantis/dev+staging/shop",
    url="http://127.0.0.1/env/-/merge_requests/3",
    mine=True,
    paths=("atlantis.yaml", "terraform/dev/shop/main.tf.json", "terraform/staging/modules/s3/main.tf"),
    statuses=(Status("atlantis/plan", "success", "2026-01-01T00:00:05.000Z"),),
    my_notes=(),
)


@pytest.mark.parametrize(
    ("change", "action", "said"),
    [
        ({}, "apply", "atlantis/plan succeeded"),
        ({"branch": "atlantis/prod/shop"}, "skip", "a person applies it"),
        ({"branch": "atlantis/dev+prod/shop"}, "skip", "a person applies it"),
        ({"branch": "atlantis/dev"}, "skip", "a person applies it"),
        ({"mine": False}, "skip", "not opened by the platform renderer"),
        (
            {"paths": ("kubernetes/dev/shop/deployment.yaml",)},
            "refuse",
            "kubernetes/dev/shop/deployment.yaml",
        ),
        ({"paths": ("terraform/prod/shop/main.tf.json",)}, "refuse", "terraform/prod/shop/main.tf.json"),
        ({"paths": ("terraform/development/x.tf",)}, "refuse", "terraform/development/x.tf"),
        ({"paths": (".render/projects/dev.json",)}, "refuse", ".render/projects/dev.json"),
        ({"statuses": ()}, "wait", "not set yet"),
        ({"statuses": (Status("atlantis/plan", "running", "2026-01-01T00:00:05Z"),)}, "wait", "running"),
        ({"statuses": (Status("atlantis/plan", "failed", "2026-01-01T00:00:05Z"),)}, "failed", "is failed"),
        (
            {"statuses": (Status("atlantis-stg/plan", "success", "2026-01-01T00:00:05Z"),)},
            "wait",
            "not set yet",
        ),
        ({"my_notes": (("atlantis apply", "2026-01-01T00:00:06.000Z"),)}, "done", "already asked"),
        (
            {"my_notes": (("atlantis apply", "2026-01-01T00:00:04.000Z"),)},
            "apply",
            "succeeded",
        ),  # a newer plan
        ({"my_notes": (("atlantis plan", "2026-01-01T00:00:09.000Z"),)}, "apply", "succeeded"),
        ({"my_notes": (("atlantis apply", "not a time"),)}, "apply", "succeeded"),  # unreadable: ask again
        (
            {"statuses": PLANNED.statuses + (Status("atlantis/apply", "failed", "2026-01-01T00:00:09Z"),)},
            "failed",
            "the apply failed",
        ),
        (
            {"statuses": PLANNED.statuses + (Status("atlantis/apply", "running", "2026-01-01T00:00:09Z"),)},
            "done",
            "atlantis/apply is running",
        ),
    ],
)
def test_what_the_bot_decides(change: dict[str, object], action: str, said: str) -> None:
    decision = atlantis.decide(replace(PLANNED, **change), DIRECT)  # type: ignore[arg-type]
    assert (decision.action, said in decision.reason) == (action, True), decision


def test_a_custom_status_name_is_read() -> None:
    renamed = replace(PLANNED, statuses=(Status("atlantis-stg/plan", "success", "2026-01-01T00:00:05Z"),))
    assert atlantis.decide(renamed, DIRECT, "atlantis-stg").action == "apply"
