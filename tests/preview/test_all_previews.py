"""After a platform-config change, `publish --all-apps --env preview` re-renders every stored preview
(as `--all-apps` does every stored app elsewhere), with the images each was published with; it
touches nothing outside the previews and only the platform may run it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from tests.conftest import edit, git, write
from tests.preview.test_preview import allowed, changed, files, preview, tree

Cli = Callable[..., Result]
HELLO = """apiVersion: score.dev/v1b1
metadata:
  name: hello
containers:
  main:
    image: .
"""
SHOP_INGRESS = "kubernetes/preview/preview-shop-7/web/ingress-web-route.yaml"
HELLO_DEPLOYMENT = "kubernetes/preview/preview-hello-3/hello/deployment-hello.yaml"


def show(repo: Path, path: str) -> str:
    return git("--git-dir", str(repo), "show", f"main:{path}")


def all_previews(cli: Cli, project: Path, repo: Path, *args: str) -> Result:
    return cli(
        "publish", "--root", str(project), "--env-repo", str(repo), "--all-apps", "--env", "preview", *args
    )


def test_a_platform_change_reaches_every_open_preview(
    cli: Cli, project: Path, bare_repo: Path, tmp_path: Path
) -> None:
    hello = tmp_path / "apps" / "hello"
    write(hello / "score.yaml", HELLO)
    assert preview(cli, project, bare_repo, "shop", "--preview", "7").exit_code == 0
    image = ("--image", "registry.example.com/team-a/hello:1.0")
    assert preview(cli, project, bare_repo, hello, "--preview", "3", *image).exit_code == 0
    owners, head = (
        show(bare_repo, ".render/owners.json"),
        git("--git-dir", str(bare_repo), "rev-parse", "main"),
    )
    assert "letsencrypt-staging" not in show(bare_repo, SHOP_INGRESS)
    issuer = "cert-manager.io/cluster-issuer: letsencrypt\n"
    edit(
        project / "platform-config/resources/route.yaml",
        issuer,
        issuer.replace("letsencrypt", "letsencrypt-staging"),
    )
    result = all_previews(cli, project, bare_repo)
    assert result.exit_code == 0, result.output
    assert "cert-manager.io/cluster-issuer: letsencrypt-staging" in show(bare_repo, SHOP_INGRESS)
    assert "image: registry.example.com/team-a/hello:1.0" in show(bare_repo, HELLO_DEPLOYMENT)  # as published
    touched = changed(bare_repo, head)
    assert SHOP_INGRESS in touched and ".render/previews/preview-shop-7/index.json" in touched
    assert all(p.startswith(allowed("preview-shop-7") + allowed("preview-hello-3")) for p in touched), touched
    assert show(bare_repo, ".render/owners.json") == owners  # nobody's preview changed hands
    index = json.loads(show(bare_repo, ".render/previews/preview-hello-3/index.json"))
    assert "registry.example.com/team-a/hello:1.0" in json.dumps(index["images"])
    again = tree(bare_repo)
    assert all_previews(cli, project, bare_repo).exit_code == 0
    assert tree(bare_repo) == again  # nothing left to change


def test_with_no_previews_it_writes_nothing(cli: Cli, project: Path, bare_repo: Path) -> None:
    assert preview(cli, project, bare_repo, "shop", "--preview", "7").exit_code == 0
    assert preview(cli, project, bare_repo, "shop", "--remove-preview", "7").exit_code == 0
    before = tree(bare_repo)
    result = all_previews(cli, project, bare_repo)
    assert result.exit_code == 0, result.output
    assert tree(bare_repo) == before and not any(p.startswith("kubernetes/preview") for p in files(bare_repo))


def test_only_the_platform_re_renders_every_preview(cli: Cli, project: Path, bare_repo: Path) -> None:
    assert preview(cli, project, bare_repo, "shop", "--preview", "7").exit_code == 0
    before = tree(bare_repo)
    refused = all_previews(cli, project, bare_repo, "--app-id", "commerce/shop")
    assert refused.exit_code == 4, refused.output
    assert "only the platform may publish every app" in refused.output
    mixed = all_previews(cli, project, bare_repo, "--env", "dev")
    assert mixed.exit_code == 2, mixed.output
    assert "re-renders every stored preview; it takes no other --env" in mixed.output
    assert tree(bare_repo) == before
