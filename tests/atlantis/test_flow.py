"""A direct environment's Terraform becomes a merge request Atlantis can plan, apply and merge;
the server-side repos.yaml allows what the generated atlantis.yaml sets."""

from __future__ import annotations

import json
from pathlib import Path

import gitlab
import yaml

from renderer.render.terraform import OVERRIDDEN
from tests.atlantis.conftest import settings
from tests.conftest import ROOT
from tests.fake_gitlab import TOKEN, FakeGitLab
from tests.test_publish import files_at, merge_terraform, pub, show, store_app

PROJECT = "terraform/dev/store/main.tf.json"


def test_dev_terraform_becomes_a_merge_request_atlantis_applies(bare_repo: Path, tmp_path: Path) -> None:
    app = store_app(tmp_path)
    with FakeGitLab() as gl:
        env = settings(gl)
        args = ("--env-repo", str(bare_repo), "--app", str(app), "--env", "dev")
        done = pub(*args, "--format", "json", env={**env, "CI_COMMIT_SHA": "abcdef123456"})
        assert done.returncode == 0, done.stderr
        (outcome,) = json.loads(done.stdout)
        branch = "atlantis/dev/store"
        assert outcome["terraform_branch"] == branch and outcome["terraform_merge_request"]
        assert "kubernetes/dev/store/files/deployment-files.yaml" in files_at(bare_repo)  # objects: main
        assert PROJECT not in files_at(bare_repo) and PROJECT in files_at(bare_repo, branch)
        (mr,) = gl.mrs
        assert (mr["source_branch"], mr["target_branch"]) == (branch, "main")
        assert mr["title"] == "terraform(dev): store @ abcdef12" and "`atlantis apply`" in mr["description"]
        atlantis = yaml.safe_load(show(bare_repo, "atlantis.yaml", branch))
        assert atlantis["automerge"] is True
        (project,) = [p for p in atlantis["projects"] if p["dir"] == "terraform/dev/store"]
        assert project["apply_requirements"] == ["mergeable"] and project["autoplan"]["enabled"] is True
        # the platform bot's step, as the renderer prints it: comment `atlantis apply` on the MR
        text = pub(*args, "--image", "unused=x", env=env)  # a new digest: renders and prints again
        assert f"merge request {outcome['terraform_merge_request']}" in text.stdout
        assert "next: once Atlantis has planned it, comment `atlantis apply` on it" in text.stdout
        client = gitlab.Gitlab(gl.url, private_token=TOKEN)
        client.projects.get("p/env", lazy=True).mergerequests.get(mr["iid"], lazy=True).notes.create(
            {"body": "atlantis apply"}
        )
        assert [n["body"] for n in gl.notes[mr["iid"]]] == ["atlantis apply"]
        assert merge_terraform(bare_repo) == [f"refs/heads/{branch}"]  # Atlantis applied and merged
        assert PROJECT in files_at(bare_repo)
        again = pub(*args, "--image", "unused=x", env=env)
        assert again.returncode == 0 and "up to date, no commit" in again.stdout
        assert len(gl.mrs) == 1 and "atlantis/" not in again.stdout


def test_repos_yaml_allows_every_key_atlantis_yaml_overrides() -> None:
    repos = yaml.safe_load((ROOT / "deploy/atlantis/repos.yaml").read_text())["repos"]
    default, env_repo = repos
    assert default["id"] == "/.*/" and default["allowed_overrides"] == []
    generated = yaml.safe_load((ROOT / "tests/cases/examples/expected/atlantis.yaml").read_text())
    used = {key for p in generated["projects"] for key in p if key in OVERRIDDEN}
    assert used == {"apply_requirements"} and used <= set(env_repo["allowed_overrides"])
    assert env_repo["allow_custom_workflows"] is False
