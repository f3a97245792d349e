"""The sharded platform pipeline: `render-shard` runs as `parallel:` jobs whose manifests feed every
publish-<env> job; the file against its rules, and the jobs run by gitlab-ci-local."""

from __future__ import annotations

import json
from pathlib import Path

from tests.ci.conftest import Runner, StaticGitLab, commit_all
from tests.ci.test_ci_files import PLATFORM_CI, job, jobs, load
from tests.conftest import ROOT, git, run_renderer
from tests.fake_gitlab import TOKEN, FakeGitLab
from tests.security.test_identity import Instance


def test_the_shard_jobs_run_in_parallel_before_every_publish() -> None:
    config = load(PLATFORM_CI)
    shard = job(config, "render-shard")
    stages = config["stages"]
    assert stages.index("shard") == stages.index("publish") - 1  # after the tests, before any publish
    assert shard["stage"] == "shard" and isinstance(shard["parallel"], int) and shard["parallel"] >= 2
    assert '--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL" --shard-dir shards' in shard["script"][-1]
    assert "--all-apps" in shard["script"][-1] and "--env " not in shard["script"][-1]  # every env once
    assert "shards/" in shard["artifacts"]["paths"] and shard["artifacts"]["expire_in"]
    publishes = [name for name in jobs(config) if name.startswith("publish-")]
    assert publishes
    for name in publishes:
        body = job(config, name)
        assert "needs" not in body  # stage order: the shards' artifacts and the tests come first
        # previews are stored apart and never in a shard: publish-preview renders them whole
        assert ("--merge-shards shards" in body["script"][-1]) == (name != "publish-preview"), name


def test_shard_jobs_feed_the_publish_job(
    platform: Runner, static_gitlab: tuple[StaticGitLab, Instance], bare_repo: Path
) -> None:
    served, instance = static_gitlab
    apps = [str(ROOT / "examples/apps/shop"), str(ROOT / "examples/apps/billing")]
    seeded = run_renderer(
        "publish", "--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "dev",
        "--app", apps[0], "--app", apps[1],
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    before = git("--git-dir", str(bare_repo), "rev-parse", "main")
    dev = platform.cwd / "environments" / "dev.yaml"
    dev.write_text(dev.read_text(encoding="utf-8").replace("LOG_LEVEL: debug", "LOG_LEVEL: info"))
    sha = commit_all(platform.cwd, "dev logs less")
    variables = {
        "CI_SERVER_URL": served.url,
        "ENV_REPO_URL": str(bare_repo),
        "RENDERER_GIT_TOKEN": "not-needed-for-a-local-path",
        "RENDERER_GITLAB_TOKEN": TOKEN,
        "RENDERER_ENV_REPO_PROJECT": "platform/env",
        "RENDERER_ID_TOKEN": instance.token("platform/platform-config", sha, iss=served.url),
    }
    listed = platform.jobs(variables)
    assert {k: v for k, v in listed.items() if k.startswith("render-shard")} == {
        f"render-shard: [{i}/3]": "shard" for i in (1, 2, 3)
    }
    with FakeGitLab() as gl:  # the direct environment's Terraform goes by merge request
        variables["RENDERER_GITLAB_URL"] = gl.url
        proc = platform.run("render-shard", "publish-dev", variables=variables, timeout=900)
    for name in (*(f"render-shard: [{i}/3]" for i in (1, 2, 3)), "publish-dev"):
        assert f" PASS  {name}" in proc.stdout, proc.stdout + proc.stderr
    manifests = sorted(p.name for p in (platform.cwd / "shards").iterdir())
    assert manifests == ["shard-1-of-3.json", "shard-2-of-3.json", "shard-3-of-3.json"]
    covered = [a for m in manifests for a in json.loads((platform.cwd / "shards" / m).read_text())["apps"]]
    assert sorted(covered) == ["billing", "shop"]
    assert git("--git-dir", str(bare_repo), "rev-parse", "main^") == before  # one commit on top
