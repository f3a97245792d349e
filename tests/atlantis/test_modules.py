"""Modules per environment: a module change reaches production only through production's merge
request, and each Atlantis project watches only the modules it calls."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.atlantis.conftest import settings
from tests.conftest import git, run_renderer
from tests.fake_gitlab import FakeGitLab
from tests.test_publish import files_at, merge_terraform, show, store_app

MODULE = "platform-config/modules/s3-bucket/main.tf.json"


def test_a_module_change_reaches_prod_only_through_its_merge_request(
    project: Path, bare_repo: Path, tmp_path: Path
) -> None:
    app = store_app(tmp_path)
    with FakeGitLab() as gl:
        env = settings(gl)
        argv = ("publish", "--root", str(project), "--env-repo", str(bare_repo), "--app", str(app))
        first = run_renderer(*argv, "--env", "dev", "--env", "staging", env=env)
        assert first.returncode == 0, first.stderr
        merge_terraform(bare_repo)
        assert run_renderer(*argv, "--env", "prod", env=env).returncode == 0
        git("--git-dir", str(bare_repo), "update-ref", "refs/heads/main", "render/prod/store")  # merged
        before = show(bare_repo, "terraform/prod/modules/s3-bucket/main.tf.json")
        body = json.loads((project / MODULE).read_text())
        body["locals"] = {"module_revision": "2"}
        (project / MODULE).write_text(json.dumps(body, indent=2))
        second = run_renderer(*argv, env=env)
        assert second.returncode == 0, second.stderr
        assert "module_revision" not in show(bare_repo, "terraform/dev/modules/s3-bucket/main.tf.json")
        assert merge_terraform(bare_repo) == ["refs/heads/atlantis/dev+staging/store"]  # Atlantis applied
        assert "module_revision" in show(bare_repo, "terraform/dev/modules/s3-bucket/main.tf.json")
        assert show(bare_repo, "terraform/prod/modules/s3-bucket/main.tf.json") == before  # prod: not yet
        changed = git(
            "--git-dir", str(bare_repo), "diff", "--name-only", "main...render/prod/store"
        ).splitlines()
        assert "terraform/prod/modules/s3-bucket/main.tf.json" in changed
        assert not any(p.startswith(("terraform/dev/", "kubernetes/dev/")) for p in changed)
        branches = sorted({mr["source_branch"] for mr in gl.mrs})
        assert branches == ["atlantis/dev+staging/store", "render/prod/store"]
    assert not any(p.startswith("terraform/modules/") for p in files_at(bare_repo))


def test_each_project_watches_only_the_modules_it_calls(bare_repo: Path, tmp_path: Path) -> None:
    app = store_app(tmp_path)
    root = Path(__file__).resolve().parents[2]
    done = run_renderer(
        "publish", "--root", str(root), "--env-repo", str(bare_repo), "--app", str(app), "--env", "dev"
    )
    assert done.returncode == 0, done.stderr
    merge_terraform(bare_repo)
    atlantis = yaml.safe_load(show(bare_repo, "atlantis.yaml"))
    (entry,) = [p for p in atlantis["projects"] if p["dir"] == "terraform/dev/store"]
    assert entry["autoplan"]["when_modified"] == ["*.tf.json", "../modules/s3-bucket/**/*.tf.json"]
    main = json.loads(show(bare_repo, "terraform/dev/store/main.tf.json"))
    assert {b["source"] for b in main["module"].values()} == {"../modules/s3-bucket"}
    assert "terraform/dev/modules/postgres-database/main.tf.json" in files_at(bare_repo)
