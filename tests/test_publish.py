"""Publishing to a real bare repo: commits, no-ops, removals, tombstones, races, kills."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from renderer import pipeline
from renderer.errors import EXIT_PUBLISH, EXIT_USAGE, PublishError
from renderer.inputs import app_repo, platform_config
from renderer.publish import bookkeeping
from renderer.publish import delivery as publish
from renderer.render.tree import env_kustomization
from tests.conftest import ROOT, git, run_renderer, write
from tests.fake_gitlab import TOKEN, FakeGitLab

SIMPLE = """apiVersion: score.dev/v1b1
metadata:
  name: {name}
containers:
  main:
    image: ghcr.io/example/{name}:{tag}
    variables:
      GREETING: "{greeting}"
service:
  ports:
    http: {{port: 8080}}
"""


def make_app(base: Path, app: str, workloads: dict[str, str], tag: str = "1.0.0") -> Path:
    folder = base / app
    shutil.rmtree(folder, ignore_errors=True)
    for name, greeting in workloads.items():
        write(folder / f"score-{name}.yaml", SIMPLE.format(name=name, tag=tag, greeting=greeting))
    return folder


def publish_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "renderer", "publish", "--root", str(ROOT), *args]


def store_app(tmp_path: Path) -> Path:
    """An app whose one workload has an S3 bucket: it owns a Terraform project."""
    app = tmp_path / "apps" / "store"
    resources = "resources:\n  bucket:\n    type: s3\n"
    write(app / "score.yaml", SIMPLE.format(name="files", tag="1", greeting="x") + resources)
    return app


def pub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_renderer("publish", "--root", str(ROOT), *args, env=env)


def log(bare: Path, ref: str = "main") -> list[str]:
    out = git("--git-dir", str(bare), "log", "--format=%H", ref)
    return out.splitlines() if out else []


def files_at(bare: Path, ref: str = "main") -> set[str]:
    return set(git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", ref).splitlines())


def show(bare: Path, path: str, ref: str = "main") -> str:
    return git("--git-dir", str(bare), "show", f"{ref}:{path}")


def merge_terraform(bare: Path) -> list[str]:
    """What Atlantis does once the platform bot commented `atlantis apply`: apply, then merge each
    `atlantis/...` branch (a fast-forward: the renderer builds it on main) and delete it."""
    refs = git("--git-dir", str(bare), "for-each-ref", "--format=%(refname)", "refs/heads/atlantis/").split()
    for ref in refs:
        git("--git-dir", str(bare), "merge-base", "--is-ancestor", "main", ref)  # fails unless a fast-forward
        git("--git-dir", str(bare), "update-ref", "refs/heads/main", ref)
        git("--git-dir", str(bare), "update-ref", "-d", ref)
    return refs


def test_first_publish_then_no_op(bare_repo: Path) -> None:
    first = pub(
        "--env-repo",
        str(bare_repo),
        "--app",
        str(ROOT / "examples/apps/shop"),
        env={"CI_COMMIT_SHA": "a1b2c3d4e5f6", "CI_PROJECT_URL": "https://git.example/shop"},
    )
    assert first.returncode == 0, first.stderr
    assert len(log(bare_repo)) == 1
    message = git("--git-dir", str(bare_repo), "log", "-1", "--format=%B", "main")
    assert message.startswith("render(dev,staging): shop @ a1b2c3d4\n")
    for trailer in (
        "Source-Repo: https://git.example/shop",
        "Source-Commit: a1b2c3d4e5f6",
        "Platform-Config-Commit: ",
        "Renderer-Version: 0.2.0",
        "Rendered-For: ",
    ):
        assert trailer in message
    tree = files_at(bare_repo)
    assert "kubernetes/dev/shop/api/deployment-api.yaml" in tree
    assert ".render/apps/shop/score.yaml" in tree and ".render/apps/shop/config/logging.json" in tree
    assert not any(p.startswith("kubernetes/prod/") for p in tree)  # prod goes by merge request
    assert "kubernetes/prod/shop/api/deployment-api.yaml" in files_at(bare_repo, "render/prod/shop")
    second = pub("--env-repo", str(bare_repo), "--app", str(ROOT / "examples/apps/shop"))
    assert second.returncode == 0, second.stderr
    assert "up to date, no commit" in second.stdout
    assert len(log(bare_repo)) == 1


def test_change_removal_and_app_removal(bare_repo: Path, tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    one = make_app(apps, "one", {"alpha": "hi", "beta": "hey"})
    assert pub("--env-repo", str(bare_repo), "--app", str(one), "--env", "dev").returncode == 0
    before = files_at(bare_repo)
    assert "kubernetes/dev/one/beta/deployment-beta.yaml" in before
    one = make_app(apps, "one", {"alpha": "hello", "beta": "hey"})
    assert pub("--env-repo", str(bare_repo), "--app", str(one), "--env", "dev").returncode == 0
    changed = git("--git-dir", str(bare_repo), "diff", "--name-only", "main~1", "main").splitlines()
    assert changed == [
        ".render/apps/one/index.json",
        ".render/apps/one/score-alpha.yaml",
        "kubernetes/dev/one/alpha/deployment-alpha.yaml",
    ]
    one = make_app(apps, "one", {"alpha": "hello"})
    assert pub("--env-repo", str(bare_repo), "--app", str(one), "--env", "dev").returncode == 0
    assert not any("/beta/" in p for p in files_at(bare_repo))
    removed = pub("--env-repo", str(bare_repo), "--remove-app", "one", "--env", "dev")
    assert removed.returncode == 0, removed.stderr
    assert not any(p.startswith(("kubernetes/dev/one/", ".render/apps/one/")) for p in files_at(bare_repo))
    assert "kubernetes/dev/_shared/kustomization.yaml" in files_at(bare_repo)


def test_removing_an_app_reaches_its_protected_environment_too(bare_repo: Path, tmp_path: Path) -> None:
    """The direct group removes the app's stored inputs from main first; the protected group that
    follows still finds the app's files there, and its merge request removes them."""
    app = make_app(tmp_path / "apps", "gone", {"alpha": "hi"})
    both = ("--env", "dev", "--env", "prod")
    assert pub("--env-repo", str(bare_repo), "--app", str(app), *both).returncode == 0
    git("--git-dir", str(bare_repo), "update-ref", "refs/heads/main", "render/prod/gone")  # merged
    assert "kubernetes/prod/gone/alpha/deployment-alpha.yaml" in files_at(bare_repo)
    removed = pub("--env-repo", str(bare_repo), "--remove-app", "gone", "--allow-mass-delete", *both)
    assert removed.returncode == 0, removed.stderr
    assert not any(p.startswith(("kubernetes/dev/gone/", ".render/apps/gone/")) for p in files_at(bare_repo))
    assert not any("/gone/" in p for p in files_at(bare_repo, "render/prod/gone"))
    ghost = pub("--env-repo", str(bare_repo), "--remove-app", "ghost", *both)
    assert ghost.returncode == EXIT_USAGE and "holds no such app" in ghost.stderr


def test_terraform_is_emptied_before_it_goes(bare_repo: Path, tmp_path: Path) -> None:
    app = store_app(tmp_path)
    assert pub("--env-repo", str(bare_repo), "--app", str(app), "--env", "dev").returncode == 0
    assert merge_terraform(bare_repo) == ["refs/heads/atlantis/dev/store"]
    project = "terraform/dev/store/main.tf.json"
    assert "module" in json.loads(show(bare_repo, project))
    assert pub("--env-repo", str(bare_repo), "--remove-app", "store", "--env", "dev").returncode == 0
    assert merge_terraform(bare_repo) == ["refs/heads/atlantis/dev/store"]
    emptied = json.loads(show(bare_repo, project))
    assert "module" not in emptied and emptied["//"] == bookkeeping.EMPTIED
    assert "backend" in emptied["terraform"] and "provider" in emptied
    atlantis = show(bare_repo, "atlantis.yaml")
    assert "dir: terraform/dev/store" in atlantis  # Atlantis still plans the destroy
    again = pub("--env-repo", str(bare_repo), "--all-apps", "--env", "dev")
    assert again.returncode == 0 and project in files_at(bare_repo)
    gone = pub("--env-repo", str(bare_repo), "--all-apps", "--env", "dev", "--destroyed", "dev/store")
    assert gone.returncode == 0, gone.stderr
    assert merge_terraform(bare_repo) == ["refs/heads/atlantis/dev/all-apps"]
    assert project not in files_at(bare_repo)
    assert "terraform/dev/store" not in show(bare_repo, "atlantis.yaml")


def test_destroyed_flag_refuses_a_project_with_resources(bare_repo: Path, tmp_path: Path) -> None:
    app = store_app(tmp_path)
    assert pub("--env-repo", str(bare_repo), "--app", str(app), "--env", "dev").returncode == 0
    merge_terraform(bare_repo)
    write(app / "score.yaml", SIMPLE.format(name="files", tag="1", greeting="x"))
    result = pub("--env-repo", str(bare_repo), "--app", str(app), "--env", "dev", "--destroyed", "dev/store")
    assert result.returncode == EXIT_PUBLISH
    assert (
        "terraform/dev/store/main.tf.json still declares resources; it can be removed only "
        "after an emptied version has been applied"
    ) in result.stderr


def test_mass_delete_needs_a_flag(bare_repo: Path, tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    big = make_app(apps, "big", {f"w{i}": "x" for i in range(6)})
    assert pub("--env-repo", str(bare_repo), "--app", str(big), "--env", "dev").returncode == 0
    heads = log(bare_repo)
    small = make_app(apps, "big", {"w0": "x"})
    refused = pub("--env-repo", str(bare_repo), "--app", str(small), "--env", "dev")
    assert refused.returncode == EXIT_PUBLISH
    assert (
        "this publish would delete 20 of 33 files in kubernetes/dev/; pass "
        "--allow-mass-delete if that is intended" in refused.stderr
    )
    assert log(bare_repo) == heads  # nothing committed
    allowed = pub("--env-repo", str(bare_repo), "--app", str(small), "--env", "dev", "--allow-mass-delete")
    assert allowed.returncode == 0 and len(log(bare_repo)) == len(heads) + 1


def test_invalid_input_commits_nothing(bare_repo: Path, tmp_path: Path) -> None:
    app = make_app(tmp_path / "apps", "bad", {"alpha": "${resources.nope.x}"})
    result = pub("--env-repo", str(bare_repo), "--app", str(app))
    assert result.returncode == 3
    assert "names no resource of this workload: 'nope'" in result.stderr
    assert git("--git-dir", str(bare_repo), "for-each-ref") == ""  # no branch was created


def _fresh_render(apps: list[Path], env: str) -> dict[str, bytes]:
    """The tree as a write leaves it: the render plus the files derived from what is present."""
    platform = platform_config.load_platform(str(ROOT))
    loaded = app_repo.load_apps([str(a) for a in apps], str(ROOT))
    tree = dict(pipeline.run(platform, loaded, [env], pipeline.Options()).tree)
    derived = env_kustomization(tree, env)
    assert derived is not None
    tree[f"kubernetes/{env}/kustomization.yaml"] = derived
    return tree


def test_eight_concurrent_publishers_lose_nothing(bare_repo: Path, tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    seed = make_app(apps, "seed", {"base": "0"})
    assert pub("--env-repo", str(bare_repo), "--app", str(seed), "--env", "dev").returncode == 0
    dirs = [make_app(apps / f"set{i}", f"app{i % 6}", {f"w{i}": f"v{i}"}) for i in range(8)]
    procs = [
        subprocess.Popen(
            publish_argv(
                "--env-repo",
                str(bare_repo),
                "--app",
                str(d),
                "--env",
                "dev",
                "--format",
                "json",
                "--allow-mass-delete",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in dirs
    ]
    results = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    commits = [json.loads(out)[0]["commit"] for out, _ in results]
    history = log(bare_repo)
    assert all(c in history for c in commits)  # every publisher's commit landed
    merges = git("--git-dir", str(bare_repo), "rev-list", "--merges", "main")
    assert merges == ""  # linear
    # app0 and app1 were published twice (sets 0/6 and 1/7): the later commit wins for each
    order = {c: history.index(c) for c in commits}
    winners = {}
    for i, _commit in sorted(enumerate(commits), key=lambda t: -order[t[1]]):
        winners[f"app{i % 6}"] = dirs[i]
    expected = _fresh_render([seed, *winners.values()], "dev")
    got = files_at(bare_repo)
    for path, data in expected.items():
        if path.startswith("kubernetes/dev/"):
            assert path in got, path
            assert show(bare_repo, path) == data.decode().strip(), path
    assert {p for p in got if p.startswith("kubernetes/dev/")} == {
        p for p in expected if p.startswith("kubernetes/dev/")
    }


def _greetings(bare: Path, ref: str = "main") -> tuple[str, str]:
    """The GREETING of the victim app's two workloads at `ref`, both read at one commit."""
    ref = git("--git-dir", str(bare), "rev-parse", ref)
    values = []
    for name in ("alpha", "beta"):
        text = show(bare, f"kubernetes/dev/victim/{name}/deployment-{name}.yaml", ref)
        values.append(text.split("value: ")[1].split("\n")[0].strip("'\""))
    return values[0], values[1]


def _kill_session(sid: int) -> None:
    """SIGKILL every process of the session, as a CI runner ends a job: the renderer puts git in
    process groups of its own (to end it on a timeout), so killing the renderer's group alone
    would leave a push running that lands later."""
    for _ in range(5):  # bounded: a fork between the scan and the kill is caught by the next round
        found = []
        for entry in os.listdir("/proc"):
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if entry.isdigit() and int(fields[3]) == sid:  # fields after the name: state ppid pgrp session
                found.append(int(entry))
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not found:
            return


def test_killed_publisher_leaves_old_or_new(bare_repo: Path, tmp_path: Path) -> None:
    """SIGKILL at moments spread over a publish: main always holds a whole old or a whole new render."""
    apps = tmp_path / "apps"
    first = make_app(apps, "victim", {"alpha": "1", "beta": "1"})
    started = time.monotonic()
    assert pub("--env-repo", str(bare_repo), "--app", str(first), "--env", "dev").returncode == 0
    took = time.monotonic() - started  # how long a publish runs here: the kills spread over it
    current = "1"
    interrupted = 0
    for attempt, share in enumerate((0.1, 0.3, 0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5)):
        new = str(attempt + 2)
        app = make_app(apps, "victim", {"alpha": new, "beta": new})
        proc = subprocess.Popen(
            publish_argv("--env-repo", str(bare_repo), "--app", str(app), "--env", "dev"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(took * share)
        _kill_session(proc.pid)
        proc.wait(timeout=60)
        # killed mid-run, or it had finished (and then it must have succeeded)
        assert proc.returncode in (0, -signal.SIGKILL), f"attempt {attempt}: exit {proc.returncode}"
        interrupted += proc.returncode == -signal.SIGKILL
        git("--git-dir", str(bare_repo), "fsck", "--strict")
        alpha, beta = _greetings(bare_repo)
        assert alpha == beta, f"attempt {attempt}: half-applied commit"
        assert alpha in (current, new), f"attempt {attempt}: neither old nor new"
        if proc.returncode == 0:
            assert alpha == new, f"attempt {attempt}: exited 0 but its commit is not on main"
        current = alpha
    assert interrupted, "no kill came while a publish was running: the test proved nothing"

    # the killed publishers left nothing behind that stops the next one (a stale lock, a bad ref)
    before = log(bare_repo)[0]
    app = make_app(apps, "victim", {"alpha": "final", "beta": "final"})
    last = pub("--env-repo", str(bare_repo), "--app", str(app), "--env", "dev")
    assert last.returncode == 0, last.stderr
    history = log(bare_repo)
    assert history[0] != before and before in history
    assert _greetings(bare_repo) == ("final", "final")
    git("--git-dir", str(bare_repo), "fsck", "--strict")
    # every commit main ever held is whole, not only the heads seen between kills
    for commit in history:
        alpha, beta = _greetings(bare_repo, commit)
        assert alpha == beta, f"half-applied commit {commit[:12]} in main's history"


def test_push_refused_by_the_remote_is_reported(tmp_path: Path, bare_repo: Path) -> None:
    """A refusal that is not a moved head (a hook) is not retried: it is reported as it is."""
    hook = bare_repo / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'rejected: locked for maintenance' >&2\nexit 1\n")
    hook.chmod(0o755)
    platform = platform_config.load_platform(str(ROOT))
    app = app_repo.load_apps([str(make_app(tmp_path / "apps", "solo", {"alpha": "x"}))], str(ROOT))
    req = publish.Request(url=str(bare_repo), apps=app, env_ids=("dev",), max_attempts=2)
    with pytest.raises(PublishError, match="(?s)git push failed: .*locked for maintenance"):
        publish.publish(platform, req, os.environ)


def test_bounded_retries_when_the_head_keeps_moving(
    tmp_path: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = platform_config.load_platform(str(ROOT))
    app = app_repo.load_apps([str(make_app(tmp_path / "apps", "solo", {"alpha": "x"}))], str(ROOT))
    calls = []

    def moved(*args: object, **kwargs: object) -> bool:
        calls.append(args)
        return False

    monkeypatch.setattr(publish.gitrepo, "push_cas", moved)
    req = publish.Request(url=str(bare_repo), apps=app, env_ids=("dev",), max_attempts=3, backoff=0.001)
    with pytest.raises(PublishError, match="gave up after 3 attempts: main kept moving"):
        publish.publish(platform, req, os.environ)
    assert len(calls) == 3


def test_https_token_never_shows(tmp_path: Path) -> None:
    token = "glpat-never-print-this-0001"
    app = make_app(tmp_path / "apps", "solo", {"alpha": "x"})
    result = pub(
        "--env-repo",
        "https://127.0.0.1:9/platform/env.git",
        "--app",
        str(app),
        "--env",
        "dev",
        env={"RENDERER_GIT_TOKEN": token},
    )
    assert result.returncode == EXIT_PUBLISH
    assert "git ls-remote failed" in result.stderr
    assert token not in result.stdout + result.stderr
    from renderer.adapters.gitrepo import git_env

    env = git_env({"PATH": "/bin", "RENDERER_GIT_TOKEN": token})
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader" and token not in env["GIT_CONFIG_VALUE_0"]


def test_unchanged_app_publish_skips_the_render(
    tmp_path: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renderer.inputs import roots as settings

    platform = platform_config.load_platform(str(ROOT))
    app = app_repo.load_apps([str(make_app(tmp_path / "apps", "solo", {"alpha": "x"}))], str(ROOT))
    req = publish.Request(
        url=str(bare_repo), apps=app, env_ids=("dev",), platform_digest=settings.platform_digest(str(ROOT))
    )
    assert publish.publish(platform, req, os.environ)[0].commit is not None

    def no_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered although nothing changed")

    monkeypatch.setattr(publish.pipeline, "run", no_render)
    assert publish.publish(platform, req, os.environ)[0].commit is None
    changed = publish.Request(url=str(bare_repo), apps=app, env_ids=("dev",), platform_digest="other")
    with pytest.raises(AssertionError, match="rendered although nothing changed"):
        publish.publish(platform, changed, os.environ)


def test_protected_env_without_gitlab_settings_fails_in_ci(bare_repo: Path) -> None:
    """In CI, a merge-request environment without GitLab settings is exit 5 before anything is pushed."""
    shop = str(ROOT / "examples/apps/shop")
    env = {"CI": "true", "CI_SERVER_URL": "http://127.0.0.1:9"}
    result = pub("--env-repo", str(bare_repo), "--app", shop, env=env)
    assert result.returncode == EXIT_PUBLISH, result.stderr
    assert result.stderr.startswith(
        "error: prod: delivered by merge request, but GitLab is not configured (RENDERER_GITLAB_TOKEN or "
        "GITLAB_TOKEN, RENDERER_ENV_REPO_PROJECT not set); nothing was pushed. Set them as CI/CD "
        "variables (the token masked and protected), or publish only the environments committed "
        "directly (--env)"
    )
    assert git("--git-dir", str(bare_repo), "for-each-ref") == ""  # not even dev went
    # the direct environments need no GitLab: the run goes on to who publishes (an ID token in CI)
    direct = pub("--env-repo", str(bare_repo), "--app", shop, "--env", "dev", "--env", "staging", env=env)
    assert direct.returncode == 4 and "needs a verified GitLab ID token" in direct.stderr


def test_protected_env_without_gitlab_settings_says_so_outside_ci(bare_repo: Path) -> None:
    """A local run may push the branch alone, and says that no merge request was opened."""
    result = pub("--env-repo", str(bare_repo), "--app", str(ROOT / "examples/apps/shop"), "--env", "prod")
    assert result.returncode == 0, result.stderr
    assert "warning: no merge request was opened for render/prod/shop: GitLab is not configured" in (
        result.stderr
    )
    assert log(bare_repo, "render/prod/shop")


def test_identical_render_leaves_the_merge_request_branch_alone(bare_repo: Path, tmp_path: Path) -> None:
    """Publishing the same tree again pushes nothing and updates no merge request (no new pipeline,
    approvals kept); a real change moves the branch and updates the merge request."""
    app = make_app(tmp_path / "apps", "quiet", {"web": "hello"})
    with FakeGitLab() as gl:
        gitlab = {
            "RENDERER_GITLAB_URL": gl.url,
            "RENDERER_GITLAB_TOKEN": TOKEN,
            "RENDERER_ENV_REPO_PROJECT": "platform/env",
        }
        args = ("--env-repo", str(bare_repo), "--app", str(app), "--env", "prod")
        first = pub(*args, env={**gitlab, "CI_COMMIT_SHA": "feedbeef0001"})
        assert first.returncode == 0, first.stderr
        head = log(bare_repo, "render/prod/quiet")
        assert len(head) == 1 and len(gl.mrs) == 1
        second = pub(*args, env={**gitlab, "CI_COMMIT_SHA": "feedbeef0002"})  # new commit, same inputs
        assert second.returncode == 0, second.stderr
        assert "render/prod/quiet (prod): up to date, no commit" in second.stdout
        assert log(bare_repo, "render/prod/quiet") == head
        assert not any(r.startswith("PUT ") for r in gl.requests) and len(gl.mrs) == 1
        assert gl.mrs[0]["title"] == "render(prod): quiet @ feedbeef"
        make_app(tmp_path / "apps", "quiet", {"web": "changed"})
        third = pub(*args, env={**gitlab, "CI_COMMIT_SHA": "cafe0003"})
        assert third.returncode == 0, third.stderr
        assert log(bare_repo, "render/prod/quiet") != head
        assert [r for r in gl.requests if r.startswith("PUT ")] and len(gl.mrs) == 1
        assert gl.mrs[0]["title"] == "render(prod): quiet @ cafe0003"


def test_a_reverted_change_is_not_left_proposed_and_a_merged_one_is_up_to_date(
    bare_repo: Path, tmp_path: Path
) -> None:
    """A protected environment: once its merge request is merged, the same inputs are up to date
    (no branch, no render); a change then reverted renders the open branch back to main's tree."""
    app = make_app(tmp_path / "apps", "undo", {"web": "hello"})
    git_dir = ("--git-dir", str(bare_repo))
    with FakeGitLab() as gl:
        gitlab = {"RENDERER_GITLAB_URL": gl.url, "RENDERER_GITLAB_TOKEN": TOKEN}
        gitlab["RENDERER_ENV_REPO_PROJECT"] = "platform/env"
        args = ("--env-repo", str(bare_repo), "--app", str(app), "--env", "prod")
        assert pub(*args, env=gitlab).returncode == 0
        git(*git_dir, "update-ref", "refs/heads/main", "refs/heads/render/prod/undo")  # merged
        git(*git_dir, "update-ref", "-d", "refs/heads/render/prod/undo")  # and its branch removed
        again = pub(*args, env=gitlab)
        assert again.returncode == 0 and "up to date, no commit" in again.stdout, again.stdout
        assert "render/prod/undo" not in git(*git_dir, "branch", "--list")
        make_app(tmp_path / "apps", "undo", {"web": "changed"})
        assert pub(*args, env=gitlab).returncode == 0
        tree = ("rev-parse", "render/prod/undo^{tree}")
        assert git(*git_dir, *tree) != git(*git_dir, "rev-parse", "main^{tree}")
        make_app(tmp_path / "apps", "undo", {"web": "hello"})  # reverted
        reverted = pub(*args, env=gitlab)
        assert reverted.returncode == 0, reverted.stderr
        assert git(*git_dir, *tree) == git(*git_dir, "rev-parse", "main^{tree}")  # proposes nothing now
