"""`publish --preview MR` and `--remove-preview MR` against a real environment repo (a bare remote)
that `publish` filled with the examples."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from tests.conftest import git
from tests.test_publish import merge_terraform

Cli = Callable[..., Result]


def tree(bare: Path) -> str:
    return git("--git-dir", str(bare), "rev-parse", "main^{tree}")


def files(bare: Path) -> set[str]:
    return set(git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "main").split())


def changed(bare: Path, old: str) -> list[str]:
    return git("--git-dir", str(bare), "diff", "--name-only", old, "main").split()


def allowed(name: str) -> tuple[str, ...]:
    """Where a preview may write: its own paths, the preview environment's shared parts, the records."""
    return (
        f"kubernetes/preview/{name}/",
        f"clusters/preview/renderer/{name}/",
        f".render/previews/{name}/",
        "kubernetes/preview/_shared/",
        "clusters/preview/renderer/_shared/",
        "kubernetes/preview/kustomization.yaml",
        f"catalog/preview/{name}/",  # its Backstage entities, in the preview environment's namespace
        "catalog/preview/_shared/",
        ".render/owners.json",
    )


@pytest.fixture
def env_repo(cli: Cli, project: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The examples published to dev, their Terraform merged as Atlantis does."""
    monkeypatch.setenv("RENDERER_JOBS", "1")
    apps = ["--app", str(project / "examples/apps/shop"), "--app", str(project / "examples/apps/billing")]
    result = cli("publish", "--root", str(project), "--env-repo", str(bare_repo), "--env", "dev", *apps)
    assert result.exit_code == 0, result.output
    merge_terraform(bare_repo)
    assert not any(p.startswith(("kubernetes/preview", ".render/previews")) for p in files(bare_repo))
    return bare_repo


def preview(cli: Cli, project: Path, repo: Path, app: Path | str, *args: str) -> Result:
    folder = app if isinstance(app, Path) else project / "examples/apps" / app
    return cli("publish", "--root", str(project), "--env-repo", str(repo), "--app", str(folder), *args)


def test_a_preview_published_and_removed_leaves_the_repo_exactly_as_before(
    cli: Cli, project: Path, env_repo: Path
) -> None:
    before, head = tree(env_repo), git("--git-dir", str(env_repo), "rev-parse", "main")
    result = preview(cli, project, env_repo, "shop", "--preview", "7")
    assert result.exit_code == 0, result.output
    ingress = git(
        "--git-dir",
        str(env_repo),
        "show",
        "main:kubernetes/preview/preview-shop-7/web/ingress-web-route.yaml",
    )
    host = yaml.safe_load(ingress)["spec"]["rules"][0]["host"]
    assert f"preview: https://{host}/\n" in result.output  # the host its Ingress routes, not a pattern
    touched = changed(env_repo, head)
    assert "kubernetes/preview/preview-shop-7/api/deployment-api.yaml" in touched
    assert ".render/previews/preview-shop-7/score.yaml" in touched
    assert all(p.startswith(allowed("preview-shop-7")) for p in touched), touched
    assert not any(p.startswith("terraform/") for p in touched)  # in-cluster resources only
    namespace = git(
        "--git-dir", str(env_repo), "show", "main:kubernetes/preview/preview-shop-7/api/deployment-api.yaml"
    )
    assert "namespace: preview-shop-7" in namespace
    result = preview(cli, project, env_repo, "shop", "--remove-preview", "7")
    assert result.exit_code == 0, result.output
    assert tree(env_repo) == before


def test_removing_one_preview_leaves_the_others_alone(cli: Cli, project: Path, env_repo: Path) -> None:
    before = tree(env_repo)
    assert preview(cli, project, env_repo, "shop", "--preview", "7").exit_code == 0
    assert preview(cli, project, env_repo, "shop", "--preview", "8").exit_code == 0
    other = {p for p in files(env_repo) if "preview-shop-8" in p}
    blobs = git("--git-dir", str(env_repo), "ls-tree", "-r", "main", "--", *sorted(other))
    assert preview(cli, project, env_repo, "shop", "--remove-preview", "7").exit_code == 0
    assert not any("preview-shop-7" in p for p in files(env_repo))
    assert git("--git-dir", str(env_repo), "ls-tree", "-r", "main", "--", *sorted(other)) == blobs
    assert preview(cli, project, env_repo, "shop", "--remove-preview", "8").exit_code == 0
    assert tree(env_repo) == before


@pytest.mark.parametrize("folder", ["Evil..Name with spaces", "x" * 120, "dev"])
def test_a_hostile_app_name_writes_only_inside_its_preview(
    cli: Cli, project: Path, env_repo: Path, tmp_path: Path, folder: str
) -> None:
    app = tmp_path / "apps" / folder
    shutil.copytree(project / "examples/apps/shop", app)
    before, head = tree(env_repo), git("--git-dir", str(env_repo), "rev-parse", "main")
    result = preview(cli, project, env_repo, app, "--preview", "3")
    assert result.exit_code == 0, result.output
    names = {p.split("/")[2] for p in changed(env_repo, head) if p.startswith("kubernetes/preview/preview-")}
    (name,) = names
    assert len(name) <= 40 and name.startswith("preview-") and name.endswith("-3")
    assert all(p.startswith(allowed(name)) for p in changed(env_repo, head)), changed(env_repo, head)
    assert preview(cli, project, env_repo, app, "--remove-preview", "3").exit_code == 0
    assert tree(env_repo) == before


def test_only_the_owner_removes_a_preview(cli: Cli, project: Path, env_repo: Path) -> None:
    head = git("--git-dir", str(env_repo), "rev-parse", "main")
    assert preview(cli, project, env_repo, "shop", "--preview", "5", "--app-id", "team-a/shop").exit_code == 0
    published = git("--git-dir", str(env_repo), "rev-parse", "main")
    result = preview(cli, project, env_repo, "shop", "--remove-preview", "5", "--app-id", "team-b/shop")
    assert result.exit_code == 4, result.output
    assert "app 'preview-shop-5' belongs to team-a/shop; team-b/shop (app-id) may not change" in result.output
    assert git("--git-dir", str(env_repo), "rev-parse", "main") == published != head


def test_removing_a_preview_that_does_not_exist_is_a_usage_error(
    cli: Cli, project: Path, env_repo: Path
) -> None:
    before = tree(env_repo)
    result = preview(cli, project, env_repo, "shop", "--remove-preview", "99")
    assert result.exit_code == 2, result.output
    assert (
        "cannot remove preview 'preview-shop-99': the environment repo holds no such preview" in result.output
    )
    assert tree(env_repo) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--env", "preview"), "--env preview: the preview environment takes only previews"),
        (("--preview", "1", "--remove-preview", "1"), "--preview and --remove-preview exclude each other"),
        (("--preview", "1", "--env", "dev"), "--preview and --remove-preview take one --app"),
        (("--preview", "0"), "merge request 0: give the merge request's IID"),
    ],
)
def test_wrong_preview_options_are_usage_errors(
    cli: Cli, project: Path, env_repo: Path, args: tuple[str, ...], message: str
) -> None:
    before = tree(env_repo)
    result = preview(cli, project, env_repo, "shop", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert tree(env_repo) == before


def test_a_preview_that_would_need_terraform_is_refused(cli: Cli, project: Path, env_repo: Path) -> None:
    (project / "platform-config/resources/s3-preview.yaml").unlink()  # s3 is Terraform's again
    before = tree(env_repo)
    result = preview(cli, project, env_repo, "shop", "--preview", "7")
    assert result.exit_code == 4, result.output
    assert (
        "a preview renders no Terraform (preview.terraform is false in environments/preview.yaml)"
        in result.output
    )
    assert "terraform/preview/preview-shop-7/main.tf.json" in result.output
    assert tree(env_repo) == before


def test_a_regular_publish_never_renders_the_preview_environment(
    cli: Cli, project: Path, env_repo: Path
) -> None:
    result = cli("publish", "--root", str(project), "--env-repo", str(env_repo), "--all-apps", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert preview(cli, project, env_repo, "shop", "--preview", "7").exit_code == 0
    result = cli("publish", "--root", str(project), "--env-repo", str(env_repo), "--all-apps")
    assert result.exit_code == 0, result.output
    assert "preview" not in result.output.replace("preview-shop-7", "")
    assert "kubernetes/staging/preview-shop-7/kustomization.yaml" not in files(env_repo)
    assert "kubernetes/preview/preview-shop-7/kustomization.yaml" in files(env_repo)


def test_a_secret_only_the_cluster_holds_cannot_go_into_a_previews_file(
    cli: Cli, project: Path, env_repo: Path
) -> None:
    """billing writes its bucket's secret key into a file: fine where the key has a secret-store path
    (Terraform's bucket), refused where the preview's bucket credentials are a Kubernetes Secret."""
    before = tree(env_repo)
    result = preview(cli, project, env_repo, "billing", "--preview", "8")
    assert result.exit_code == 3, result.output
    assert "lives only in the cluster and cannot be placed inside file content" in result.output
    assert tree(env_repo) == before


def test_the_diff_note_names_the_previews_url(cli: Cli, project: Path, env_repo: Path) -> None:
    args = ("diff", "--root", str(project), "--env-repo", str(env_repo), "--env", "dev", "--preview", "7")
    result = cli(*args, "--app", str(project / "examples/apps/shop"), "--format", "markdown")
    assert result.exit_code == 0, result.output
    published = preview(cli, project, env_repo, "shop", "--preview", "7")
    assert published.exit_code == 0, published.output
    urls = [line.split(": ", 1)[1] for line in published.output.splitlines() if line.startswith("preview")]
    assert len(urls) == 2 and urls[0].endswith("/") and urls[1].endswith("/api"), urls  # web's root first
    assert f"Preview environment: <{urls[0]}>" in result.output
    assert f"- <{urls[1]}>" in result.output  # every URL it routes is listed
    as_json = cli(
        *args, "--app", str(project / "examples/apps/shop"), "--app-id", "team/shop", "--format", "json"
    )
    body = json.loads(as_json.output)
    assert (body["preview"], body["preview_url"], body["preview_urls"]) == ("preview-shop-7", urls[0], urls)
    plain = cli(
        "diff",
        "--root",
        str(project),
        "--env-repo",
        str(env_repo),
        "--app",
        str(project / "examples/apps/shop"),
    )
    assert plain.exit_code == 0 and "preview" not in plain.output.lower()
