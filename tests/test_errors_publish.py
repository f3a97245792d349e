"""Every error `publish` reports itself (arguments, the environment repo's bookkeeping, the push),
with its exit code and message, against a real bare repo; and the writer's own guard."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from renderer.errors import EXIT_INVALID, EXIT_PUBLISH, EXIT_USAGE, UsageError
from renderer.publish import writer
from tests.conftest import ROOT, git, write

SCORE = """apiVersion: score.dev/v1b1
metadata:
  name: {name}
containers:
  main:
    image: ghcr.io/example/{name}:1.0.0
{extra}"""


def _app(tmp_path: Path, app: str = "one", name: str = "alpha", extra: str = "") -> Path:
    folder = tmp_path / "apps" / app
    shutil.rmtree(folder, ignore_errors=True)
    write(folder / f"score-{name}.yaml", SCORE.format(name=name, extra=extra))
    return folder


def _publish(cli: Callable[..., Result], bare: Path, *args: str) -> Result:
    return cli("publish", "--quiet", "--root", str(ROOT), "--env-repo", str(bare), "--env", "dev", *args)


def _refs(bare: Path) -> str:
    return git("--git-dir", str(bare), "for-each-ref", "--format=%(refname) %(objectname)")


def test_nothing_to_publish(cli: Callable[..., Result], bare_repo: Path) -> None:
    result = _publish(cli, bare_repo)
    assert (result.exit_code, result.output) == (
        EXIT_USAGE,
        "error: nothing to publish: give --app DIR, --all-apps or --remove-app\n",
    )


def test_remove_an_app_the_repo_does_not_have(cli: Callable[..., Result], bare_repo: Path) -> None:
    result = _publish(cli, bare_repo, "--remove-app", "ghost")
    assert (result.exit_code, result.output) == (
        EXIT_USAGE,
        "error: cannot remove app 'ghost': the environment repo holds no such app\n",
    )
    assert _refs(bare_repo) == ""


def test_destroyed_names_no_terraform_project(
    cli: Callable[..., Result], bare_repo: Path, tmp_path: Path
) -> None:
    app = _app(tmp_path)
    result = _publish(cli, bare_repo, "--app", str(app), "--destroyed", "dev/nowhere")
    assert (result.exit_code, result.output) == (
        EXIT_USAGE,
        "error: --destroyed dev/nowhere: there is no such Terraform project\n",
    )
    assert _refs(bare_repo) == ""


def test_stored_inputs_that_no_longer_load_skip_that_app_only(
    cli: Callable[..., Result], bare_repo: Path, tmp_path: Path
) -> None:
    """One app's broken stored inputs never block another app's publish, nor a platform-wide one."""
    assert _publish(cli, bare_repo, "--app", str(_app(tmp_path))).exit_code == 0
    checkout = tmp_path / "checkout"
    git("clone", "-q", str(bare_repo), str(checkout))
    write(checkout / ".render/apps/one/score-alpha.yaml", "apiVersion: score.dev/v1b1\nmetadata: [\n")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "break", cwd=checkout)
    git("push", "-q", "origin", "main", cwd=checkout)
    deployment = "main:kubernetes/dev/one/alpha/deployment-alpha.yaml"
    kept = git("--git-dir", str(bare_repo), "show", deployment)
    warning = (
        "SKIPPED app 'one': its stored inputs no longer load, its last output is kept: yaml: "
        ".render/apps/one/score-alpha.yaml:3: not valid YAML: did not find expected node content "
        "(fix the syntax)"
    )
    for args in (("--app", str(_app(tmp_path, "two", "beta"))), ("--all-apps",)):
        result = _publish(cli, bare_repo, *args)
        assert result.exit_code == 0, result.output
        assert warning in result.output.splitlines()
        shown = git(
            "--git-dir", str(bare_repo), "show", "main:kubernetes/dev/one/alpha/deployment-alpha.yaml"
        )
        assert shown == kept
        listed = git("--git-dir", str(bare_repo), "show", "main:kubernetes/dev/kustomization.yaml")
        assert "- one/" in listed and "- two/" in listed
        # its catalog entity and its entry point too: without it Flux removes the app
        kept_elsewhere = git(
            "--git-dir",
            str(bare_repo),
            "ls-tree",
            "-r",
            "--name-only",
            "main",
            "catalog/dev/one",
            "clusters/dev/renderer/one",
        )
        assert "catalog/dev/one/catalog-info.yaml" in kept_elsewhere.split()
        assert any(p.startswith("clusters/dev/renderer/one/") for p in kept_elsewhere.split())


def test_an_app_whose_stored_inputs_are_gone_but_its_index_is_kept_is_skipped(
    cli: Callable[..., Result], bare_repo: Path, tmp_path: Path
) -> None:
    """Its index alone is not checked out (it is read from git's objects), so its folder is not
    on disk: the app is still one whose inputs no longer load, and its output is kept."""
    assert _publish(cli, bare_repo, "--app", str(_app(tmp_path))).exit_code == 0
    checkout = tmp_path / "checkout"
    git("clone", "-q", str(bare_repo), str(checkout))
    git("rm", "-q", ".render/apps/one/score-alpha.yaml", cwd=checkout)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "inputs gone", cwd=checkout)
    git("push", "-q", "origin", "main", cwd=checkout)
    deployment = "main:kubernetes/dev/one/alpha/deployment-alpha.yaml"
    kept = git("--git-dir", str(bare_repo), "show", deployment)
    for args in (("--app", str(_app(tmp_path, "two", "beta"))), ("--all-apps",)):
        result = _publish(cli, bare_repo, *args)
        assert result.exit_code == 0, result.output
        assert "SKIPPED app 'one': its stored inputs no longer load" in result.output
        assert git("--git-dir", str(bare_repo), "show", deployment) == kept


def test_file_source_outside_the_app_directory(
    cli: Callable[..., Result], bare_repo: Path, tmp_path: Path
) -> None:
    write(tmp_path / "apps" / "shared.conf", "x = 1\n")
    extra = "    files:\n      /etc/shared.conf:\n        source: ../shared.conf\n"
    app = _app(tmp_path, extra=extra)
    result = _publish(cli, bare_repo, "--app", str(app))
    assert result.exit_code == EXIT_INVALID
    assert (
        f'{app / "score-alpha.yaml"}:9 at containers.main.files["/etc/shared.conf"].source: file source '
        "'../shared.conf' climbs out of its folder with '..'" in result.output
    )
    assert _refs(bare_repo) == ""


def test_push_that_the_remote_takes_back(cli: Callable[..., Result], bare_repo: Path, tmp_path: Path) -> None:
    """A remote that accepts a push but does not keep it (a hook resets the branch) is caught."""
    assert _publish(cli, bare_repo, "--app", str(_app(tmp_path))).exit_code == 0
    hook = bare_repo / "hooks" / "post-receive"
    hook.write_text('#!/bin/sh\nwhile read old new ref; do git update-ref "$ref" "$old"; done\n')
    hook.chmod(0o755)
    before = _refs(bare_repo)
    result = _publish(cli, bare_repo, "--app", str(_app(tmp_path, name="beta")))
    assert result.exit_code == EXIT_PUBLISH, result.output
    assert re.fullmatch(r"error: pushed [0-9a-f]{12} but main on the remote lacks it\n", result.output)
    assert _refs(bare_repo) == before


def test_writer_refuses_a_path_it_does_not_own() -> None:
    """Every command hands the writer only owned paths; its guard holds for any other caller."""
    with pytest.raises(UsageError) as err:
        writer.plan_tree({"kubernetes/qa/x.yaml": b"x"}, ["kubernetes/dev/"], [], lambda path, data: False)
    assert str(err.value) == "render produced kubernetes/qa/x.yaml, outside the paths it owns"
