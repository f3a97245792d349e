"""The two CI files against GitLab's CI schema, against environments/ and against their own rules."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, write

PLATFORM_CI = ROOT / ".gitlab-ci.yml"
APP_CI = ROOT / "ci" / "app-repo.gitlab-ci.yml"
TIERS = {"development": "development", "staging": "staging", "production": "production"}
GITLAB_VARS = ("RENDERER_GITLAB_TOKEN", "RENDERER_ENV_REPO_PROJECT")
RESERVED = {"variables", "workflow", "stages", "default", "include"}


def load(path: Path) -> dict[str, Any]:
    data = list(yaml.safe_load_all(path.read_text()))[-1]  # after the `spec:` header, if there is one
    assert isinstance(data, dict)
    return data


def job(config: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with what it `extends` merged in as GitLab merges it (one level, as these files use
    it): hashes deeply, later parents over earlier ones and the job over all; lists replaced."""
    body = dict(config[name])
    parents = body.pop("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _deep_merge(merged, config[parent])
    return _deep_merge(merged, body)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _deep_merge(out[key], value) if both else value
    return out


def jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: job(config, k) for k in config if k not in RESERVED and not k.startswith(".")}


def schema_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.gitlab-ci"]
    argv += [str(p) for p in paths]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def documents(path: Path, folder: Path) -> list[Path]:
    """Each YAML document of a CI file as a file of its own: GitLab reads a `spec:` header and the
    configuration after `---` as two documents, each against the same schema; the checker reads one."""
    parts = path.read_text().split("\n---\n")
    return [write(folder / f"{path.stem}-{i}.yml", text) for i, text in enumerate(parts)]


def test_both_files_follow_gitlabs_ci_schema(tmp_path: Path) -> None:
    header, config = documents(PLATFORM_CI, tmp_path)
    assert "spec" in yaml.safe_load(header.read_text())
    proc = schema_check(header, config, APP_CI)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the check can fail: a misspelt keyword is refused
    broken = write(tmp_path / "broken.yml", APP_CI.read_text().replace("  script:\n", "  scripts:\n", 1))
    proc = schema_check(broken)
    assert proc.returncode == 1 and "('scripts' was unexpected)" in proc.stdout + proc.stderr


def environments() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((ROOT / "environments").glob("*.yaml")):
        env = yaml.safe_load(path.read_text())
        found[env["id"]] = env
    assert found
    return found


@pytest.mark.parametrize("prefix", ["publish", "render-app"])
def test_every_environment_has_its_publish_jobs(prefix: str) -> None:
    """publish-<env> and render-app-<env> for every environment (publish-preview re-renders every
    open preview after a platform change; render-app-preview: checked below as well)."""
    config = load(PLATFORM_CI)
    envs = environments()
    listed = {k.removeprefix(f"{prefix}-") for k in jobs(config) if k.startswith(f"{prefix}-")}
    assert listed == set(envs), f"{prefix}-<env> jobs and environments/*.yaml differ"
    for env_id, env in envs.items():
        body = job(config, f"{prefix}-{env_id}")
        assert body["variables"]["RENDERER_ENV"] == env_id
        assert body["resource_group"] == f"env-{env_id}"
        assert body["interruptible"] is False  # a newer pipeline never cancels a publish
        needs = body["variables"]["RENDERER_NEEDS"].split()
        assert {"ENV_REPO_URL", "RENDERER_GIT_TOKEN"} <= set(needs)
        # every environment opens merge requests: a protected one for everything, a direct one
        # for its Terraform (Atlantis plans and applies only merge requests); previews have no
        # Terraform (their environment file refuses it) and are direct
        needs_gitlab = env["type"] != "preview"
        assert all(v in needs for v in GITLAB_VARS) is needs_gitlab, env_id
        if prefix == "publish":
            assert body["environment"] == {
                "name": env_id,
                "deployment_tier": TIERS.get(env["type"], "other"),
            }
            assert "--all-apps" in body["script"][-1]
            assert "--id-token-var RENDERER_ID_TOKEN" in body["script"][-1]
        else:
            assert "environment" not in body  # other apps' pipelines would be "outdated deployments"
            assert "--id-token-var RENDERER_APP_ID_TOKEN" in body["script"][-1]
            preview = env["type"] == "preview"
            assert (body["rules"][0]["if"].endswith('$RENDERER_PREVIEW_MR == ""')) is not preview, env_id
        assert body["before_script"][0] == "sh ci/require-vars.sh $RENDERER_NEEDS"
        assert "pip install -q dist/*.whl" in body["before_script"][-1]  # the wheel: no test extras


def test_atlantis_apply_runs_after_every_publish_one_at_a_time() -> None:
    config = load(PLATFORM_CI)
    body = job(config, "atlantis-apply")
    assert config["stages"][-1] == body["stage"] == "apply"  # after the publish stage
    assert body["interruptible"] is False and body["resource_group"] == "atlantis-apply"
    assert all(rule["when"] == "always" for rule in body["rules"])  # a failed prod publish: dev still
    assert set(body["variables"]["RENDERER_NEEDS"].split()) == set(GITLAB_VARS)
    assert "RENDERER_GIT_TOKEN" not in body["variables"]["RENDERER_NEEDS"]  # it only comments
    assert body["script"] == ["renderer atlantis apply --wait 900"]


def test_platform_pipeline_rules() -> None:
    config = load(PLATFORM_CI)
    assert config["default"]["interruptible"] is True
    assert config["variables"]["PIP_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/pip"
    assert config["default"]["cache"]["paths"] == [".cache/pip"]
    test = job(config, "test")
    assert test["artifacts"]["reports"]["junit"] == "report.xml"
    assert test["artifacts"]["reports"]["coverage_report"]["path"] == "coverage.xml"
    assert "--junitxml=report.xml --cov-report=xml:coverage.xml" in test["script"][-1]
    impact = " ".join(job(config, "impact")["script"])
    assert '--base "$CI_MERGE_REQUEST_DIFF_BASE_SHA"' in impact and "--post-note" in impact


@pytest.mark.parametrize("path", [PLATFORM_CI, APP_CI], ids=["platform", "app-template"])
def test_every_artifact_expires(path: Path) -> None:
    config = load(path)
    for name, body in config.items():
        if isinstance(body, dict) and "artifacts" in body:
            assert "expire_in" in body["artifacts"], name


def test_app_template_leaves_the_apps_pipeline_alone() -> None:
    config = load(APP_CI)
    assert "stages" not in config and "default" not in config and "workflow" not in config
    for name, body in config.items():
        if name == "variables":
            continue
        assert name.startswith(("renderer-", ".renderer-")), f"{name}: not prefixed renderer-"
        assert body.get("stage", ".pre") in (".pre", ".post"), name  # stages every pipeline has
    text = APP_CI.read_text()
    assert not re.search(r"""[\s"'=]/platform-config""", text)  # no fixed folder at the root
    assert 'export RENDERER_PLATFORM="$(mktemp -d)/platform-config"' in text
    diff = " ".join(job(config, "renderer-diff")["script"])
    assert "renderer diff" in diff and "--post-note" in diff
    assert '--image "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"' in diff
    assert job(config, "renderer-publish")["id_tokens"]["RENDERER_ID_TOKEN"]["aud"] == "$RENDERER_AUDIENCE"


def test_app_template_pins_this_release_and_documents_every_variable() -> None:
    config = load(APP_CI)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert config["variables"]["RENDERER_PLATFORM_REF"] == f"v{version}"
    header = "".join(line for line in APP_CI.read_text().splitlines(keepends=True) if line.startswith("#"))
    assert f"ref: v{version}" in header
    used = set(re.findall(r"\$\{?(RENDERER_[A-Z_]+)", APP_CI.read_text())) | set(config["variables"])
    used -= {
        "RENDERER_PLATFORM",
        "RENDERER_ID_TOKEN",
        "RENDERER_PREVIEW_ACTION",
        "RENDERER_PREVIEW_URL",  # renderer-diff's dotenv report (renderer preview --dotenv)
    }  # set by the jobs themselves
    for name in sorted(used):
        assert re.search(rf"^#\s+{name}\s", header, re.M), f"{name} is not documented at the top"


def test_the_readme_for_platform_teams_names_every_variable_the_pipelines_read() -> None:
    readme = (ROOT / "README.md").read_text()
    texts = PLATFORM_CI.read_text() + APP_CI.read_text()
    names = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", texts)) | {"ENV_REPO_URL"}
    names -= {n for n in names if n.startswith(("CI_", "GITLAB_"))}  # GitLab's own
    names -= {"RENDERER_PLATFORM", "RENDERER_ENV", "RENDERER_NEEDS"}  # the jobs set them
    names -= {"RENDERER_APP_PROJECT", "RENDERER_APP_SHA"}  # `renderer identity` prints them
    names -= {"RENDERER_PREVIEW_URL"}  # `renderer preview --dotenv` writes it
    for name in sorted(names):
        assert f"`{name}`" in readme, f"README.md does not explain {name}"


def test_previews_open_and_close_a_gitlab_environment() -> None:
    """renderer-preview starts the environment (stopped after the preview environment's ttl, or by
    renderer-preview-stop when the merge request closes); both trigger the platform with the merge
    request's IID, which render-app-preview publishes or removes."""
    config = load(APP_CI)
    start, stop = job(config, "renderer-preview"), job(config, "renderer-preview-stop")
    preview = environments()["preview"]["preview"]
    assert start["environment"]["on_stop"] == "renderer-preview-stop"
    assert start["environment"]["auto_stop_in"] == preview["ttl"]
    assert stop["environment"] == {"name": start["environment"]["name"], "action": "stop"}
    assert start["environment"]["name"] == "preview/mr-$CI_MERGE_REQUEST_IID"
    assert stop["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "manual"}]
    assert stop["variables"]["GIT_STRATEGY"] == "none" and stop["allow_failure"] is True
    for body, action in ((start, "start"), (stop, "stop")):
        assert body["variables"]["RENDERER_PREVIEW_ACTION"] == action
        trigger = body["script"][-1]
        assert '--form "inputs[preview_mr]=${CI_MERGE_REQUEST_IID}"' in trigger
        assert '--form "inputs[app_id_token]=${RENDERER_ID_TOKEN}"' in trigger
    assert '--preview "$CI_MERGE_REQUEST_IID"' in " ".join(job(config, "renderer-diff")["script"])
    platform = load(PLATFORM_CI)
    header = list(yaml.safe_load_all(PLATFORM_CI.read_text()))[0]["spec"]["inputs"]
    assert header["preview_action"]["options"] == ["start", "stop"]
    assert re.fullmatch(header["preview_mr"]["regex"], "12") and not re.fullmatch(
        header["preview_mr"]["regex"], "1;x"
    )
    script = "\n".join(job(platform, "render-app-preview")["script"])
    assert '--preview "$RENDERER_PREVIEW_MR" --app "$app"' in script
    assert '--remove-preview "$RENDERER_PREVIEW_MR"' in script


def test_an_apps_publish_into_a_pinning_environment_asks_aws_with_gitlabs_oidc_token() -> None:
    """Where the environment pins images (prod), the app's publish resolves digests and holds back
    what waits for secrets (`--check-aws`), with a web-identity token for AWS_ROLE_ARN."""
    config = load(PLATFORM_CI)
    envs = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "environments").glob("*.yaml")}
    pinning = sorted(k for k, e in envs.items() if (e.get("aws") or {}).get("pin_images"))
    assert pinning == ["prod"]
    for env in envs:
        name = f"render-app-{env}"
        if name not in config:
            continue
        body = job(config, name)
        asks = body["variables"].get("RENDERER_CHECK_AWS") == "yes"
        assert asks == (env in pinning), name
        if asks:
            assert body["id_tokens"]["AWS_ID_TOKEN"] == {"aud": "sts.amazonaws.com"}
            assert "AWS_ROLE_ARN" in body["variables"]["RENDERER_NEEDS"].split()
            assert body["variables"]["AWS_WEB_IDENTITY_TOKEN_FILE"].startswith("$CI_BUILDS_DIR/")
            script = "\n".join(body["script"])
            assert "${RENDERER_CHECK_AWS:+--check-aws}" in script
            assert '> "$AWS_WEB_IDENTITY_TOKEN_FILE"' in script
