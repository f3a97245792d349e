"""Two-phase publish (`publish --check-aws`): a change that adds a database ships its Terraform first;
the Kubernetes objects that read the database's secret wait on a draft merge request until the
secret exists in AWS (moto), then ship. Real env repo (bare remote), real python-gitlab against the
loopback GitLab."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from renderer.publish import phases, writer
from renderer.render import tree as trees
from tests.atlantis.conftest import settings
from tests.aws.conftest import account_session, prod_session, seed_app_secrets, seed_image, seed_secret
from tests.aws.proxy import FaultProxy
from tests.conftest import ROOT, git, run_renderer
from tests.fake_gitlab import FakeGitLab

LEDGER = "platform/{env}/shop/worker/ledger"  # the new database's secret (the Terraform module writes it)
WORKER = "kubernetes/{env}/shop/worker"
STAGING = ("222222222222", "eu-west-1")  # a direct environment, with Terraform-made secrets
HELD = ["deployment-worker.yaml", "externalsecret-worker.yaml"]


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Path, Path]:
    """The shop app as published (v1), and the change that gives its worker a Postgres database (v2)."""
    v1, v2 = tmp_path / "v1" / "shop", tmp_path / "v2" / "shop"
    shutil.copytree(ROOT / "examples/apps/shop", v1)
    shutil.copytree(ROOT / "examples/apps/shop", v2)
    score = v2 / "score-worker.yaml"
    text = score.read_text()
    text = text.replace(
        "      CACHE_HOST: ${resources.cache.host}\n",
        "      CACHE_HOST: ${resources.cache.host}\n      LEDGER_DB_HOST: ${resources.ledger.host}\n",
    )
    score.write_text(text + "  ledger:\n    type: postgres\n")
    return v1, v2


@pytest.fixture
def gitlab(bare_repo: Path) -> Iterator[FakeGitLab]:
    with FakeGitLab(bare_repo) as gl:
        yield gl


def pub(gl: FakeGitLab, *args: str) -> tuple[int, str, str]:
    proc = run_renderer("publish", "--root", str(ROOT), *args, env=settings(gl))
    return proc.returncode, proc.stdout, proc.stderr


def gated(gl: FakeGitLab, bare: Path, app: Path, env: str) -> tuple[int, str, str]:
    return pub(gl, "--env-repo", str(bare), "--app", str(app), "--env", env, "--check-aws")


def show(bare: Path, ref: str, path: str) -> str:
    return git("--git-dir", str(bare), "show", f"{ref}:{path}")


def seed_everything_v1_needs(moto_url: str, app: Path, env: str) -> None:
    """What the platform already has in the account: the images, and every secret v1 reads."""
    session = prod_session(moto_url) if env == "prod" else account_session(moto_url, *STAGING)
    seed_image(session, moto_url, "shop/api", "1.14.2", "a")
    seed_image(session, moto_url, "shop/worker", "1.14.2", "b")
    assert seed_app_secrets(session, moto_url, str(app), env)


def merge(bare: Path, gl: FakeGitLab, branch: str) -> None:
    """A reviewer merges the merge request (Atlantis applied it first); GitLab removes the branch."""
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", f"refs/heads/{branch}")
    git("--git-dir", str(bare), "update-ref", "-d", f"refs/heads/{branch}")
    for mr in gl.mrs:
        if mr["source_branch"] == branch and mr["state"] == "opened":
            mr["state"] = "merged"


def test_a_new_database_ships_its_terraform_first_and_its_objects_once_the_secret_exists(
    aws: FaultProxy, moto_url: str, bare_repo: Path, gitlab: FakeGitLab, versions: tuple[Path, Path]
) -> None:
    v1, v2 = versions
    ledger, worker = LEDGER.format(env="prod"), WORKER.format(env="prod")
    seed_everything_v1_needs(moto_url, v1, "prod")
    code, out, err = gated(gitlab, bare_repo, v1, "prod")
    assert code == 0, err
    assert "held back" not in out
    merge(bare_repo, gitlab, "render/prod/shop")
    before = {name: show(bare_repo, "main", f"{worker}/{name}") for name in HELD}

    # phase 1: the Terraform (and every object that needs nothing new); the worker's objects wait
    code, out, err = gated(gitlab, bare_repo, v2, "prod")
    assert code == 0, err
    assert "held/prod/shop (prod): 2 object(s) held back until AWS has their secrets" in out
    assert ledger in show(bare_repo, "render/prod/shop", "terraform/prod/shop/main.tf.json")
    for name in HELD:  # the previous version, as on main
        assert show(bare_repo, "render/prod/shop", f"{worker}/{name}") == before[name]
    (first,) = [m for m in gitlab.mrs if m["source_branch"] == "render/prod/shop" and m["state"] == "opened"]
    assert not first["draft"]
    assert f"- {worker}/externalsecret-worker.yaml\n" in first["description"]
    assert "second phase: the draft merge request from held/prod/shop" in first["description"]

    # phase 2: a draft merge request into the first phase's branch, holding only the waiting objects
    changed = git("--git-dir", str(bare_repo), "diff", "--name-only", "render/prod/shop", "held/prod/shop")
    assert changed.splitlines() == [f"{worker}/{name}" for name in HELD]
    assert ledger in show(bare_repo, "held/prod/shop", f"{worker}/externalsecret-worker.yaml")
    assert "LEDGER_DB_HOST" in show(bare_repo, "held/prod/shop", f"{worker}/deployment-worker.yaml")
    (draft,) = [mr for mr in gitlab.mrs if mr["source_branch"] == "held/prod/shop"]
    assert draft["draft"] and draft["title"].startswith("Draft: render(prod): shop")
    assert draft["target_branch"] == "render/prod/shop"
    assert "prod/shop: 1 missing" in draft["description"]
    assert f"missing secret {ledger}: no such secret in Secrets Manager" in draft["description"]

    # the same publish again, the secret still missing: nothing new, the draft stays as it is
    code, out, err = gated(gitlab, bare_repo, v2, "prod")
    assert code == 0, err
    assert "render/prod/shop (prod): up to date, no commit" in out
    assert [mr["state"] for mr in gitlab.mrs if mr["source_branch"] == "held/prod/shop"] == ["opened"]

    # Atlantis applied the first phase (the module wrote the secret) and it was merged: phase 2 ships
    seed_secret(prod_session(moto_url), moto_url, ledger)
    merge(bare_repo, gitlab, "render/prod/shop")
    code, out, err = gated(gitlab, bare_repo, v2, "prod")
    assert code == 0, err
    assert "held back" not in out
    assert ledger in show(bare_repo, "render/prod/shop", f"{worker}/externalsecret-worker.yaml")
    assert "LEDGER_DB_HOST" in show(bare_repo, "render/prod/shop", f"{worker}/deployment-worker.yaml")
    assert draft["state"] == "closed"


def test_in_a_direct_environment_the_objects_wait_off_main_until_the_secret_exists(
    aws: FaultProxy, moto_url: str, bare_repo: Path, gitlab: FakeGitLab, versions: tuple[Path, Path]
) -> None:
    v1, v2 = versions
    ledger, worker = LEDGER.format(env="staging"), WORKER.format(env="staging")
    seed_everything_v1_needs(moto_url, v1, "staging")
    code, out, err = gated(gitlab, bare_repo, v1, "staging")
    assert code == 0, err
    merge(bare_repo, gitlab, "atlantis/staging/shop")  # Atlantis applied v1's Terraform and merged it
    before = {name: show(bare_repo, "main", f"{worker}/{name}") for name in HELD}

    code, out, err = gated(gitlab, bare_repo, v2, "staging")
    assert code == 0, err
    assert ledger in show(bare_repo, "atlantis/staging/shop", "terraform/staging/shop/main.tf.json")
    for name in HELD:  # main (what Argo CD deploys) keeps the objects that would fail without the secret
        assert show(bare_repo, "main", f"{worker}/{name}") == before[name]
    changed = git("--git-dir", str(bare_repo), "diff", "--name-only", "main", "held/staging/shop")
    assert changed.splitlines() == [f"{worker}/{name}" for name in HELD]  # no Terraform: Atlantis plans none
    (draft,) = [mr for mr in gitlab.mrs if mr["source_branch"] == "held/staging/shop"]
    assert draft["draft"] and draft["target_branch"] == "main"
    assert f"missing secret {ledger}" in draft["description"]

    seed_secret(account_session(moto_url, *STAGING), moto_url, ledger)
    merge(bare_repo, gitlab, "atlantis/staging/shop")
    code, out, err = gated(gitlab, bare_repo, v2, "staging")
    assert code == 0, err
    assert ledger in show(bare_repo, "main", f"{worker}/externalsecret-worker.yaml")
    assert draft["state"] == "closed"


def test_phase_one_keeps_a_held_objects_previous_version_and_leaves_a_new_one_out(tmp_path: Path) -> None:
    app = "kubernetes/prod/shop"
    old, new = f"{app}/worker/externalsecret-worker.yaml", f"{app}/ledger/externalsecret-ledger.yaml"
    (tmp_path / old).parent.mkdir(parents=True)
    (tmp_path / old).write_bytes(b"previous\n")
    tree = {
        old: b"with the ledger\n",
        new: b"new\n",
        f"{app}/worker/deployment-worker.yaml": b"deployment\n",
        f"{app}/kustomization.yaml": b"lists all three\n",
        "terraform/prod/shop/main.tf.json": b"{}\n",
    }
    held = phases.Held((new, old), {}, "report")
    phases.hold(tree, writer.on_disk(str(tmp_path)), phases.Gate(("prod",), {"prod": held}), ["prod"])
    assert tree[old] == b"previous\n"
    assert new not in tree
    assert tree[f"{app}/kustomization.yaml"] == trees.kustomization(
        ["worker/deployment-worker.yaml", "worker/externalsecret-worker.yaml"]
    )
    assert tree["terraform/prod/shop/main.tf.json"] == b"{}\n"  # the Terraform is never held


def test_nothing_is_held_where_the_gate_did_not_look(tmp_path: Path) -> None:
    tree = {"kubernetes/dev/shop/a.yaml": b"a\n"}
    held = phases.Held(("kubernetes/dev/shop/a.yaml",), {}, "report")
    phases.hold(tree, writer.on_disk(str(tmp_path)), phases.Gate(("dev",), {"dev": held}), ["staging"])
    assert tree == {"kubernetes/dev/shop/a.yaml": b"a\n"}
