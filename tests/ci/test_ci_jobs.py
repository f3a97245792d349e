"""The jobs of .gitlab-ci.yml and ci/app-repo.gitlab-ci.yml, run by gitlab-ci-local's shell executor.

gitlab-ci-local runs no `trigger:` job and resolves `include: project:` by cloning over git: the
app repo here includes a local copy of the template, and the platform's triggered jobs
(render-app-<env>) run directly, with the variables a trigger would give them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from renderer import __version__
from tests.ci.conftest import MERGE_REQUEST, Runner, StaticGitLab, as_checkout, copy_project
from tests.conftest import ROOT, git, run_renderer, write
from tests.security.test_identity import Instance

HELLO = """apiVersion: score.dev/v1b1
metadata:
  name: hello
containers:
  main:
    image: .
service:
  ports:
    http: {port: 8080}
"""

DEPLOYMENT = "kubernetes/dev/hello/hello/deployment-hello.yaml"

# An app repo with stages and a `publish` job of its own, including the platform's template.
APP_CI = """include:
  - local: ci/app-repo.gitlab-ci.yml
stages: [compile, publish]
compile-image:
  stage: compile
  script: [echo "the app's image is built"]
publish:
  stage: publish
  script: [echo "the app's own publish job ran"]
"""


def passed(proc: object, job: str) -> bool:
    out = getattr(proc, "stdout", "")
    return f" PASS  {job}" in out and getattr(proc, "returncode", 1) == 0


def test_default_branch_pipeline_validates_then_publishes_each_environment(platform: Runner) -> None:
    assert platform.jobs() == {
        "build": "build",
        "test": "test",
        "validate": "test",
        **{f"render-shard: [{i}/3]": "shard" for i in (1, 2, 3)},  # tests/ci/test_ci_shards.py
        "publish-dev": "publish",
        "publish-staging": "publish",
        "publish-prod": "publish",
        "publish-preview": "publish",  # every open preview re-rendered with the merged platform config
        "atlantis-apply": "apply",
    }
    proc = platform.run("validate")
    assert passed(proc, "validate"), proc.stdout + proc.stderr
    report = json.loads((platform.cwd / "validate.json").read_text())
    assert report["ok"] is True and report["apps"] == 2 and report["environments"] == 4  # preview too


def test_merge_request_pipeline_validates_the_apps_the_environment_repo_holds(
    platform: Runner, bare_repo: Path
) -> None:
    variables = {**MERGE_REQUEST, "ENV_REPO_URL": str(bare_repo)}
    assert platform.jobs(variables, unset=["CI_COMMIT_BRANCH"]) == {
        "build": "build",
        "test": "test",
        "validate": "test",
        "validate-env-apps": "test",
        "impact": "review",
    }
    apps = [str(ROOT / "examples/apps/shop"), str(ROOT / "examples/apps/billing")]  # both: a shared scope
    published = run_renderer(
        "publish", "--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "dev",
        "--app", apps[0], "--app", apps[1],
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    proc = platform.run("validate-env-apps", variables=variables, unset=["CI_COMMIT_BRANCH"])
    assert passed(proc, "validate-env-apps"), proc.stdout + proc.stderr
    assert "in 2 apps, 4 environments" in proc.stdout


def test_publish_job_names_every_missing_variable_before_installing(platform: Runner) -> None:
    proc = platform.run("publish-prod", variables={"ENV_REPO_URL": "https://gitlab.example.com/env.git"})
    assert proc.returncode != 0 and " FAIL  publish-prod" in proc.stdout
    assert (
        "error: publish-prod needs CI/CD variables that are not set: RENDERER_GIT_TOKEN "
        "RENDERER_GITLAB_TOKEN RENDERER_ENV_REPO_PROJECT" in proc.stdout
    )
    assert "pip install" not in proc.stdout  # stopped at the check, the first line


def test_render_app_publishes_exactly_what_the_token_proves(
    platform: Runner, static_gitlab: tuple[StaticGitLab, Instance], tmp_path: Path, bare_repo: Path
) -> None:
    """The triggered job verifies the app's ID token against the instance's keys, clones the
    project the token names at its commit, and publishes it with the image that pipeline built."""
    served, instance = static_gitlab
    app = tmp_path / "hello"
    write(app / "score.yaml", HELLO)
    sha = as_checkout(app, "https://gitlab.example.com/team-a/hello.git")
    served.host("team-a/hello", app)
    token = instance.token("team-a/hello", sha, iss=served.url)
    inputs = {"app_id_token": token}  # the one thing the app's trigger passes: an input, not a variable
    variables = {
        "CI_PIPELINE_SOURCE": "pipeline",
        "CI_SERVER_URL": served.url,
        "CI_REGISTRY": "registry.example.com",
        "ENV_REPO_URL": str(bare_repo),
        "RENDERER_GIT_TOKEN": "not-needed-for-a-local-path",
        # a direct environment opens a merge request only for Terraform, and this app has none
        "RENDERER_GITLAB_TOKEN": "not-needed-without-terraform",
        "RENDERER_ENV_REPO_PROJECT": "platform/environments",
    }
    assert platform.jobs(variables, unset=["CI_COMMIT_BRANCH"], inputs=inputs) == {
        "build": "build",
        "render-app-dev": "publish",
        "render-app-staging": "publish",
        "render-app-prod": "publish",
        "atlantis-apply": "apply",
    }
    proc = platform.run("render-app-dev", variables=variables, unset=["CI_COMMIT_BRANCH"], inputs=inputs)
    assert passed(proc, "render-app-dev"), proc.stdout + proc.stderr
    assert token not in proc.stdout + proc.stderr
    deployment = git("--git-dir", str(bare_repo), "show", f"main:{DEPLOYMENT}")
    assert f"image: registry.example.com/team-a/hello:{sha}" in deployment
    owners = json.loads(git("--git-dir", str(bare_repo), "show", "main:.render/owners.json"))
    assert owners["apps"] == {"hello": "team-a/hello"}
    assert "kubernetes/prod/" not in git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main")


def test_render_app_refuses_a_token_the_instance_did_not_sign(
    platform: Runner, static_gitlab: tuple[StaticGitLab, Instance], bare_repo: Path
) -> None:
    served, _ = static_gitlab
    forger = Instance()  # another key: what an app could sign for itself
    try:
        token = forger.token("platform/platform-config", "a" * 40, iss=served.url)
    finally:
        forger.server.shutdown()
    variables = {
        "CI_PIPELINE_SOURCE": "pipeline",
        "CI_SERVER_URL": served.url,
        "ENV_REPO_URL": str(bare_repo),
        "RENDERER_GIT_TOKEN": "not-needed-for-a-local-path",
        "RENDERER_GITLAB_TOKEN": "never-used-here",
        "RENDERER_ENV_REPO_PROJECT": "platform/environments",
    }
    proc = platform.run(
        "render-app-dev", variables=variables, unset=["CI_COMMIT_BRANCH"], inputs={"app_id_token": token}
    )
    out = proc.stdout + proc.stderr
    assert re.search(r"render-app-dev finished in [0-9.]+ m?s +FAIL 4", out), out  # exit 4: refused
    assert "error: the ID token was refused: Signature verification failed" in out
    assert "ci/clone.sh" not in out  # stopped before anything of the app was read
    assert git("--git-dir", str(bare_repo), "for-each-ref") == ""


def app_repo(tmp_path: Path, job_python: Path, ci: str) -> Runner:
    app = tmp_path / "app"
    write(app / "score.yaml", HELLO)
    write(app / ".gitlab-ci.yml", ci)
    shutil.copytree(ROOT / "ci", app / "ci", ignore=shutil.ignore_patterns("*.sh"))  # the include's copy
    as_checkout(app, "https://gitlab.example.com/team-a/hello.git")
    return Runner(app, job_python, tmp_path / "home")


def test_app_template_keeps_the_apps_own_stages_and_publish_job(tmp_path: Path, job_python: Path) -> None:
    app = app_repo(tmp_path, job_python, APP_CI)
    assert app.jobs() == {
        "renderer-validate": ".pre",
        "compile-image": "compile",
        "publish": "publish",
        "renderer-publish": ".post",
    }
    assert app.jobs(MERGE_REQUEST, unset=["CI_COMMIT_BRANCH"]) == {
        "renderer-validate": ".pre",
        "renderer-diff": ".pre",
        "compile-image": "compile",
        "publish": "publish",
        "renderer-preview": ".post",
        "renderer-preview-stop": ".post",
    }
    proc = app.run("publish")
    assert passed(proc, "publish") and "the app's own publish job ran" in proc.stdout, proc.stdout


def test_app_template_with_gitlabs_default_stages(tmp_path: Path, job_python: Path) -> None:
    ci = "include:\n  - local: ci/app-repo.gitlab-ci.yml\n"
    ci += "build-image:\n  stage: build\n  script: [echo built]\n"
    app = app_repo(tmp_path, job_python, ci)
    assert app.jobs() == {
        "renderer-validate": ".pre",
        "build-image": "build",
        "renderer-publish": ".post",
    }


def test_app_template_validates_against_the_pinned_platform_config(tmp_path: Path, job_python: Path) -> None:
    """renderer-validate clones the platform config at RENDERER_PLATFORM_REF into a temporary
    folder, installs the renderer from it and checks the app's Score files with it."""
    platform = copy_project(tmp_path / "platform-config")
    as_checkout(platform, "https://gitlab.example.com/platform/platform-config.git")
    git("tag", f"v{__version__}", cwd=platform)  # the release the template pins
    app = app_repo(tmp_path, job_python, APP_CI)
    variables = {"RENDERER_PLATFORM_URL": str(platform)}
    proc = app.run("renderer-validate", variables=variables, timeout=600)
    assert passed(proc, "renderer-validate"), proc.stdout + proc.stderr
    assert "ok: 1 workloads in 1 apps" in proc.stdout
    assert not (app.cwd / "platform-config").exists() and not Path("/platform-config").exists()


def test_render_app_preview_publishes_then_removes_the_preview_the_token_proves(
    platform: Runner, static_gitlab: tuple[StaticGitLab, Instance], tmp_path: Path, bare_repo: Path
) -> None:
    """What an app merge request's renderer-preview and renderer-preview-stop start: the preview of
    the commit the token proves, then its removal, leaving the environment repo as it was."""
    served, instance = static_gitlab
    app = tmp_path / "hello"
    write(app / "score.yaml", HELLO)
    sha = as_checkout(app, "https://gitlab.example.com/team-a/hello.git")
    served.host("team-a/hello", app)
    token = instance.token("team-a/hello", sha, iss=served.url)
    published = run_renderer(
        "publish", "--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "dev", "--app", str(app),
        "--image", "registry.example.com/team-a/hello:1.0",
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    before = git("--git-dir", str(bare_repo), "rev-parse", "main^{tree}")
    variables = {
        "CI_PIPELINE_SOURCE": "pipeline",
        "CI_SERVER_URL": served.url,
        "ENV_REPO_URL": str(bare_repo),
        "RENDERER_GIT_TOKEN": "not-needed-for-a-local-path",
        "CI_REGISTRY": "registry.example.com",
    }
    # quoted: gitlab-ci-local reads an --input as YAML (7 would be a number); GitLab's trigger API
    # takes form fields, strings, which the input's regex checks
    start = {"app_id_token": token, "preview_mr": '"7"'}
    assert platform.jobs(variables, unset=["CI_COMMIT_BRANCH"], inputs=start) == {
        "build": "build",
        "render-app-preview": "publish",
    }
    proc = platform.run("render-app-preview", variables=variables, unset=["CI_COMMIT_BRANCH"], inputs=start)
    assert passed(proc, "render-app-preview"), proc.stdout + proc.stderr
    assert "preview: preview-hello-7: no route" in proc.stdout  # hello has no Ingress: no URL
    assert token not in proc.stdout + proc.stderr
    files = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main").split()
    assert "kubernetes/preview/preview-hello-7/hello/deployment-hello.yaml" in files
    owners = json.loads(git("--git-dir", str(bare_repo), "show", "main:.render/owners.json"))
    assert owners["apps"]["preview-hello-7"] == "team-a/hello"
    stop = {**start, "preview_action": "stop"}
    proc = platform.run("render-app-preview", variables=variables, unset=["CI_COMMIT_BRANCH"], inputs=stop)
    assert passed(proc, "render-app-preview"), proc.stdout + proc.stderr
    assert "ci/clone.sh" not in proc.stdout  # removal is named by the token: nothing of the app is read
    assert git("--git-dir", str(bare_repo), "rev-parse", "main^{tree}") == before
