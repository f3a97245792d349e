"""A no-op publish to a protected environment: its open MR branch already holds it, so no render."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from renderer import pipeline
from renderer.inputs import app_repo, platform_config
from renderer.model import App, Platform
from renderer.publish import delivery
from tests.conftest import ROOT, git
from tests.test_publish import make_app


@pytest.fixture(scope="module")
def platform() -> Platform:
    return platform_config.load_platform(str(ROOT))


def load(folder: Path) -> tuple[App, ...]:
    return app_repo.load_apps([str(folder)], str(ROOT))


def publish(
    platform: Platform, bare: Path, apps: tuple[App, ...], envs: tuple[str, ...]
) -> list[delivery.Outcome]:
    req = delivery.Request(
        url=str(bare), apps=apps, env_ids=envs, platform_digest="p1", skip_checks_for_tests=True
    )
    return delivery.publish(platform, req, {"PATH": os.environ["PATH"]})


def test_an_unchanged_app_is_not_rendered_again_for_its_mr_branch(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = tmp_path / "apps"
    shop = load(make_app(apps, "shop", {"web": "hello"}))
    publish(platform, bare_repo, shop, ("dev",))  # main exists
    [first] = publish(platform, bare_repo, shop, ("prod",))
    assert first.commit and first.target == "render/prod/shop"
    renders: list[object] = []
    real = pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: renders.append(a) or real(*a, **k))
    [again] = publish(platform, bare_repo, shop, ("prod",))
    assert again.commit is None and renders == []  # up to date, decided without a render
    assert git("--git-dir", str(bare_repo), "rev-parse", "render/prod/shop") == first.commit
    changed = load(make_app(apps, "shop", {"web": "changed"}))
    [third] = publish(platform, bare_repo, changed, ("prod",))
    assert third.commit and len(renders) == 1  # a real change renders and pushes


def test_main_moved_under_the_branch_renders_again(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The branch was built on an older main: the render rebases it on the new one."""
    apps = tmp_path / "apps"
    shop = load(make_app(apps, "shop", {"web": "hello"}))
    publish(platform, bare_repo, shop, ("dev",))
    [first] = publish(platform, bare_repo, shop, ("prod",))
    publish(platform, bare_repo, load(make_app(apps, "cart", {"api": "hi"})), ("dev",))  # main moves
    renders: list[object] = []
    real = pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: renders.append(a) or real(*a, **k))
    [again] = publish(platform, bare_repo, shop, ("prod",))
    assert len(renders) == 1 and again.commit and again.commit != first.commit
    main = git("--git-dir", str(bare_repo), "rev-parse", "main")
    assert git("--git-dir", str(bare_repo), "rev-parse", "render/prod/shop^") == main
