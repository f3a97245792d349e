"""`renderer rollback` against a real environment repo (a bare remote) filled by `publish`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from renderer.cli import main
from tests.conftest import ROOT, edit, git, init_bare

Cli = Callable[..., Result]


def head(bare: Path) -> str:
    return git("--git-dir", str(bare), "rev-parse", "main")


def show(bare: Path, rev: str, path: str) -> str:
    return git("--git-dir", str(bare), "show", f"{rev}:{path}")


def changed(bare: Path, old: str, new: str) -> list[str]:
    return git("--git-dir", str(bare), "diff", "--name-only", old, new).split()


def publish(cli: Cli, project: Path, bare: Path, *apps: str) -> None:
    args = [a for name in apps for a in ("--app", str(project / "examples/apps" / name))]
    result = cli("publish", "--root", str(project), "--env-repo", str(bare), "--env", "dev", *args)
    assert result.exit_code == 0, result.output


def rollback(cli: Cli, project: Path, bare: Path, *args: str) -> Result:
    return cli("rollback", "--root", str(project), "--env-repo", str(bare), "--env", "dev", *args)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """billing alone, then shop; shop changed; billing changed: the revisions of main after each.
    Built once for the module (four publishes); each test gets its own copies."""
    base = tmp_path_factory.mktemp("history")
    project, bare = base / "project", base / "env-repo.git"
    for name in ("environments", "platform-config", "policies", "examples"):
        shutil.copytree(ROOT / name, project / name)
    init_bare(bare)
    cli = _cli()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RENDERER_JOBS", "1")
        revs = {}
        publish(cli, project, bare, "billing")
        revs["billing-only"] = head(bare)
        publish(cli, project, bare, "shop")
        revs["v1"] = head(bare)
        edit(project / "examples/apps/shop/score.yaml", 'POOL_SIZE: "10"', 'POOL_SIZE: "25"')
        publish(cli, project, bare, "shop")
        revs["v2"] = head(bare)
        billing = project / "examples/apps/billing/score.yaml"
        edit(billing, "    variables:\n", "    variables:\n      LATER: later\n")
        publish(cli, project, bare, "billing")
        revs["later"] = head(bare)
    assert len(set(revs.values())) == 4, revs
    return project, bare, revs


@pytest.fixture
def history(
    built: tuple[Path, Path, dict[str, str]], project: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """This test's `project` and `bare_repo` as the module's history left them."""
    monkeypatch.setenv("RENDERER_JOBS", "1")
    source, bare, revs = built
    shutil.rmtree(project)
    shutil.copytree(source, project)
    shutil.rmtree(bare_repo)
    git("clone", "-q", "--bare", str(bare), str(bare_repo))
    return dict(revs)


def _cli() -> Cli:
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_rollback_is_one_commit_that_touches_only_that_app(
    cli: Cli, project: Path, bare_repo: Path, history: dict[str, str]
) -> None:
    result = rollback(cli, project, bare_repo, "--app", "shop", "--to", history["v1"])
    assert result.exit_code == 0, result.output
    assert f"shop in dev rolled back to {history['v1'][:12]}: main commit" in result.output
    new = head(bare_repo)
    assert git("--git-dir", str(bare_repo), "rev-list", f"{history['later']}..{new}").split() == [new]
    touched = changed(bare_repo, history["later"], new)
    # and the record of dev's Terraform projects (shop's waits on its Atlantis branch)
    mine = ("kubernetes/dev/shop/", ".render/apps/shop/", ".render/projects/dev.json")
    assert touched and all(p.startswith(mine) for p in touched), touched
    deployment = "kubernetes/dev/shop/api/deployment-api.yaml"
    assert show(bare_repo, new, deployment) == show(bare_repo, history["v1"], deployment)
    assert show(bare_repo, new, deployment) != show(bare_repo, history["v2"], deployment)
    # billing's later change is intact, and shop's stored inputs are those of v1
    later = changed(bare_repo, history["v2"], history["later"])
    assert any(p.startswith("kubernetes/dev/billing/") for p in later), later  # billing's later change ...
    for path in ("kubernetes/dev/billing", ".render/apps/billing"):  # ... is intact
        assert git("--git-dir", str(bare_repo), "rev-parse", f"{new}:{path}") == git(
            "--git-dir", str(bare_repo), "rev-parse", f"{history['later']}:{path}"
        )
    stored = ".render/apps/shop/score.yaml"
    assert show(bare_repo, new, stored) == show(bare_repo, history["v1"], stored)
    subject = git("--git-dir", str(bare_repo), "log", "-1", "--format=%B", new)
    assert f"Source-Commit: {history['v1']}" in subject and "rollback of shop" in subject
    # the same rollback again: nothing left to change
    again = rollback(cli, project, bare_repo, "--app", "shop", "--to", history["v1"])
    assert again.exit_code == 0 and "no commit" in again.output and head(bare_repo) == new


def test_dry_run_shows_the_diff_and_commits_nothing(
    cli: Cli, project: Path, bare_repo: Path, history: dict[str, str]
) -> None:
    result = rollback(cli, project, bare_repo, "--app", "shop", "--to", history["v1"], "--dry-run")
    assert result.exit_code == 0, result.output
    assert '-          value: "25"' in result.output and '+          value: "10"' in result.output
    assert "billing" not in result.output
    assert head(bare_repo) == history["later"]
    as_json = rollback(
        cli, project, bare_repo, "--app", "shop", "--to", history["v1"], "--dry-run", "--format", "json"
    )
    assert json.loads(as_json.output)["empty"] is False


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("0" * 40, "does not exist in the environment repo's main history"),
        ("no-such-branch", "does not exist in the environment repo's main history"),
        ("--output=/tmp/x", "is not a revision name"),
        ("HEAD..main", "is not a revision name"),
        ("billing-only", "holds no record of app 'shop' (.render/apps/shop/ is absent there)"),
    ],
)
def test_a_revision_without_the_app_is_refused_and_nothing_is_written(
    cli: Cli, project: Path, bare_repo: Path, history: dict[str, str], to: str, message: str
) -> None:
    result = rollback(cli, project, bare_repo, "--app", "shop", "--to", history.get(to, to))
    assert result.exit_code == 3, result.output
    assert message in result.output
    assert head(bare_repo) == history["later"]
    assert git("--git-dir", str(bare_repo), "for-each-ref", "--format=%(refname)", "refs/heads/render/") == ""


def test_an_environment_the_app_had_no_output_in_is_refused(
    cli: Cli, project: Path, bare_repo: Path, history: dict[str, str]
) -> None:
    result = cli(
        "rollback", "--root", str(project), "--env-repo", str(bare_repo), "--env", "staging",
        "--app", "shop", "--to", history["v1"],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "holds no output of app 'shop' in environment 'staging' (it had output in: dev)" in result.output
    assert head(bare_repo) == history["later"]


def test_an_app_may_roll_back_only_itself(
    cli: Cli, project: Path, bare_repo: Path, history: dict[str, str]
) -> None:
    result = rollback(
        cli, project, bare_repo, "--app", "shop", "--to", history["v1"], "--app-id", "team/billing"
    )
    assert result.exit_code == 4, result.output
    assert "team/billing (app-id) may roll back only its own app 'billing', not 'shop'" in result.output
    assert head(bare_repo) == history["later"]


def test_a_rollback_says_which_other_environments_share_the_stored_inputs(
    cli: Cli, project: Path, bare_repo: Path, history: dict[str, str]
) -> None:
    quiet = rollback(cli, project, bare_repo, "--app", "shop", "--to", history["v1"], "--dry-run")
    assert quiet.exit_code == 0 and "warning:" not in quiet.output
    args = ("--env-repo", str(bare_repo), "--app", str(project / "examples/apps/shop"), "--env", "staging")
    assert cli("publish", "--root", str(project), *args).exit_code == 0
    result = rollback(cli, project, bare_repo, "--app", "shop", "--to", history["v1"])
    assert result.exit_code == 0, result.output
    assert (
        "warning: shop's stored inputs are shared by its environments; after this rollback a "
        "platform-wide publish renders staging from them too" in result.output
    )


def test_a_revision_whose_folder_holds_only_the_index_says_what_is_missing(
    cli: Cli, project: Path, bare_repo: Path, history: dict[str, str], tmp_path: Path
) -> None:
    """The folder is there (not "absent"): its inputs are what is missing, as a stored app's."""
    clone = tmp_path / "by-hand"
    git("clone", "-q", str(bare_repo), str(clone))
    for path in git("-C", str(clone), "ls-files", ".render/apps/shop/").split():
        if not path.endswith("/index.json"):
            git("-C", str(clone), "rm", "-q", path)
    git("-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "by hand")
    git("-C", str(clone), "push", "-q", "origin", "main")
    before = head(bare_repo)
    result = rollback(cli, project, bare_repo, "--app", "shop", "--to", before)
    assert result.exit_code == 3, result.output
    assert "no score*.yaml files in this app directory" in result.output
    assert "absent" not in result.output and head(bare_repo) == before
