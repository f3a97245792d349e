"""Digest pinning: resolved at the edge (`publish --check-aws`, ECR on moto), recorded in the app's
index (version 4), used offline by every later render, and only where the environment pins."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from renderer import pipeline
from renderer.inputs import roots
from renderer.publish import bookkeeping
from tests.aws.conftest import ECR, prod_session, seed_app_secrets, seed_image
from tests.aws.proxy import FaultProxy
from tests.conftest import ROOT, git, run_renderer

SHOP = str(ROOT / "examples/apps/shop")
API = f"{ECR}/shop/api:1.14.2"
WORKER = f"{ECR}/shop/worker:1.14.2"
DIGEST = "sha256:" + "1" * 64


def pub(*args: str) -> tuple[int, str, str]:
    proc = run_renderer("publish", "--root", str(ROOT), *args)
    return proc.returncode, proc.stdout, proc.stderr


def show(bare: Path, path: str, ref: str) -> str:
    return git("--git-dir", str(bare), "show", f"{ref}:{path}")


def merge(bare: Path, branch: str) -> None:
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", f"refs/heads/{branch}")


def test_pins_appear_only_where_the_environment_pins() -> None:
    inputs = roots.load(str(ROOT), [SHOP])
    pins = {"shop": {env: {API: DIGEST} for env in ("dev", "staging", "prod")}}
    options = pipeline.Options(pins=pins, skip_checks_for_tests=True)
    rendered = pipeline.run(inputs.platform, inputs.apps, None, options)
    with_digest = sorted(p for p, data in rendered.tree.items() if DIGEST.encode() in data)
    assert with_digest == ["kubernetes/prod/shop/api/deployment-api.yaml"]
    deployment = rendered.tree["kubernetes/prod/shop/api/deployment-api.yaml"].decode()
    assert f"image: {ECR}/shop/api@{DIGEST}" in deployment  # both containers of the pod
    assert deployment.count(f"@{DIGEST}") == 2
    assert f"renderer.platform/image-tag.api: {API}" in deployment
    assert f"renderer.platform/image-tag.migrate: {API}" in deployment
    assert "app.kubernetes.io/version: 1.14.2" in deployment  # the label keeps the tag
    assert f"image: {WORKER}" in rendered.tree["kubernetes/prod/shop/worker/deployment-worker.yaml"].decode()


def test_publish_check_aws_pins_prod_and_later_renders_stay_offline(
    aws: FaultProxy, moto_url: str, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = prod_session(moto_url)
    api = seed_image(session, moto_url, "shop/api", "1.14.2", "a")
    worker = seed_image(session, moto_url, "shop/worker", "1.14.2", "b")
    seed_app_secrets(session, moto_url, SHOP, "prod")  # else --check-aws holds back what reads them
    code, out, err = pub("--env-repo", str(bare_repo), "--app", SHOP, "--env", "prod", "--check-aws")
    assert code == 0, err
    branch = "render/prod/shop"
    deployment = show(bare_repo, "kubernetes/prod/shop/api/deployment-api.yaml", branch)
    assert f"image: {ECR}/shop/api@{api}" in deployment
    assert f"renderer.platform/image-tag.api: {API}" in deployment
    web = show(bare_repo, "kubernetes/prod/shop/web/deployment-web.yaml", branch)
    assert "image: ghcr.io/example/shop-web:2.3.0" in web  # not ECR: left by tag
    index = json.loads(show(bare_repo, ".render/apps/shop/index.json", branch))
    assert index["version"] == bookkeeping.INDEX_VERSION == 6
    assert index["pins"] == {"prod": {API: api, WORKER: worker}}

    merge(bare_repo, branch)  # the reviewer merged the production MR: its index is on main now
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # AWS unreachable from here on
    code, out, err = pub("--env-repo", str(bare_repo), "--app", SHOP, "--env", "prod")
    assert code == 0, err
    assert "(prod): up to date, no commit" in out  # rendered with the recorded pins, offline
    code, out, err = pub("--env-repo", str(bare_repo), "--all-apps", "--env", "prod")
    assert code == 0, err
    assert "(prod): up to date, no commit" in out  # a platform-wide render too

    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)  # --check-aws asks for dev's secrets (it holds none)
    code, out, err = pub("--env-repo", str(bare_repo), "--app", SHOP, "--env", "dev", "--check-aws")
    assert code == 0, err  # dev does not pin
    pinned = git(
        "--git-dir", str(bare_repo), "grep", "-l", "@sha256:", "main", "--", "kubernetes", "clusters"
    )
    assert sorted(pinned.splitlines()) == [
        "main:kubernetes/prod/shop/api/deployment-api.yaml",
        "main:kubernetes/prod/shop/worker/deployment-worker.yaml",
    ]


def test_an_image_missing_from_ecr_cannot_be_pinned(aws: FaultProxy, moto_url: str, bare_repo: Path) -> None:
    seed_image(prod_session(moto_url), moto_url, "shop/api", "1.14.2", "a")
    code, out, err = pub("--env-repo", str(bare_repo), "--app", SHOP, "--env", "prod", "--check-aws")
    assert code == 4
    assert f"prod/shop: image {WORKER} is not in ECR" in err
    assert "1 image(s) cannot be pinned: push them, or fix the tag; nothing was published" in err
    assert git("--git-dir", str(bare_repo), "for-each-ref") == ""


def test_an_index_before_version_4_has_no_pins() -> None:
    assert bookkeeping.recorded_pins({"version": 3, "images": {}}) == {}
    assert bookkeeping.recorded_pins({"version": 4, "pins": {"prod": {API: DIGEST, "x": 1}}}) == {
        "prod": {API: DIGEST}
    }


def test_a_later_publish_of_an_open_merge_request_keeps_the_digests_it_resolved(
    aws: FaultProxy, moto_url: str, bare_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Production's merge request is not merged yet: the next push of the app (no --check-aws, AWS
    unreachable) re-renders the branch with the digests the branch recorded, not main's (none)."""
    session = prod_session(moto_url)
    api = seed_image(session, moto_url, "shop/api", "1.14.2", "a")
    seed_image(session, moto_url, "shop/worker", "1.14.2", "b")
    seed_app_secrets(session, moto_url, SHOP, "prod")
    code, out, err = pub("--env-repo", str(bare_repo), "--app", SHOP, "--env", "prod", "--check-aws")
    assert code == 0, err
    app = tmp_path / "shop"
    shutil.copytree(SHOP, app)
    override = app / "overrides/prod/api.yaml"
    override.write_text(override.read_text().replace('POOL_SIZE: "40"', 'POOL_SIZE: "60"'))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    code, out, err = pub("--env-repo", str(bare_repo), "--app", str(app), "--env", "prod")
    assert code == 0, err
    deployment = show(bare_repo, "kubernetes/prod/shop/api/deployment-api.yaml", "render/prod/shop")
    assert "value: '60'" in deployment or 'value: "60"' in deployment  # the new commit is there
    assert f"image: {ECR}/shop/api@{api}" in deployment
    index = json.loads(show(bare_repo, ".render/apps/shop/index.json", "render/prod/shop"))
    assert index["pins"]["prod"][API] == api
