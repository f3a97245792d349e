"""A preview is charged to its app's team (trust.yaml lists the app, not its previews), never to
the platform team: labels on every object of the preview, whatever form its name takes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import Result

from renderer.model import Team, Trust
from renderer.publish.previews import base_app, preview_name
from tests.conftest import git

Cli = Callable[..., Result]
LONG = "a-very-long-app-name-that-no-preview-name-can-hold-whole"


def trust() -> Trust:
    teams = {
        "commerce": Team("commerce", "CC-2040", ("shop", LONG)),
        "finance": Team("finance", "CC-3100", ("billing",)),
    }
    return Trust(teams=teams, platform_team=Team("platform", "CC-1000"))


def test_every_preview_name_leads_back_to_its_listed_app() -> None:
    t = trust()
    short, hashed = preview_name("shop", 7, 40), preview_name(LONG, 7, 40)
    assert short == "preview-shop-7" and LONG not in hashed  # the hashed form: not reversible by text
    assert base_app(t, short) == "shop" and base_app(t, hashed) == LONG
    assert base_app(t, preview_name("unlisted", 7, 40)) is None  # its app is the platform team's too
    assert base_app(t, "preview-shop-x") is None and base_app(t, "preview-shop-0") is None
    assert base_app(t, preview_name("shop", 8, 40).replace("-8", "-9")) == "shop"  # shop's MR 9


def test_a_published_preview_is_charged_to_the_apps_team(cli: Cli, project: Path, bare_repo: Path) -> None:
    shop = str(project / "examples/apps/shop")
    result = cli(
        "publish", "--root", str(project), "--env-repo", str(bare_repo), "--app", shop, "--preview", "7"
    )
    assert result.exit_code == 0, result.output
    listed = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main").split()
    ours = [p for p in listed if p.startswith("kubernetes/preview/preview-shop-7/") and p.endswith(".yaml")]
    assert len(ours) > 10
    for path in ours:
        for obj in yaml.safe_load_all(git("--git-dir", str(bare_repo), "show", f"main:{path}")):
            if obj.get("kind") == "Kustomization":
                continue
            labels = obj["metadata"]["labels"]
            assert labels["renderer.platform/team"] == "commerce", path
            assert labels["renderer.platform/cost-centre"] == "CC-2040", path
            assert labels["renderer.platform/app"] == "preview-shop-7", path
