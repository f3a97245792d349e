"""`renderer diff` against a real environment repo (a bare remote) that `publish` filled with the examples."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import ROOT, edit, git, init_bare, run_renderer, write
from tests.fake_gitlab import OTHER_TOKEN, TOKEN, FakeGitLab
from tests.review.test_diff_markdown import fences
from tests.test_publish import merge_terraform

Cli = Callable[..., Result]
EXAMPLES = ROOT / "examples" / "apps"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples published once, every environment: dev and staging on main (their Terraform
    merged from its Atlantis branch), prod on its MR branch."""
    bare = tmp_path_factory.mktemp("published") / "env-repo.git"
    init_bare(bare)
    apps = ["--app", str(EXAMPLES / "shop"), "--app", str(EXAMPLES / "billing")]
    argv = ("publish", "--root", str(ROOT), "--env-repo", str(bare), "--all-apps", *apps)
    result = run_renderer(*argv, "--env", "dev", "--env", "staging")
    assert result.returncode == 0, result.stderr
    merge_terraform(bare)  # dev and staging's Terraform: applied and merged by Atlantis
    result = run_renderer(*argv, "--env", "prod")
    assert result.returncode == 0, result.stderr
    return bare


@pytest.fixture
def env_repo(published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the published repo, safe to push to."""
    monkeypatch.setenv("RENDERER_JOBS", "1")
    copy = tmp_path / "env-repo.git"
    git("clone", "-q", "--bare", str(published), str(copy))
    return copy


def diff(cli: Cli, repo: Path, *args: str, root: Path = ROOT) -> Result:
    return cli("diff", "--root", str(root), "--env-repo", str(repo), *args)


def changed_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in ("+", "-") and line[:3] not in ("+++", "---")]


def push_edit(repo: Path, tmp_path: Path, path: str, content: str | None) -> None:
    """Change the env repo's main by hand (what nobody should do; a diff shows what a publish undoes)."""
    work = tmp_path / "hand-edit"
    git("clone", "-q", str(repo), str(work))
    if content is None:
        (work / path).unlink()
    else:
        write(work / path, content)
    git("add", "-A", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "hand edit", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)


def test_identical_inputs_give_no_diff_and_exit_0(cli: Cli, env_repo: Path) -> None:
    result = diff(cli, env_repo, "--all-apps", "--exit-code")
    assert (result.exit_code, result.output) == (0, "no changes\n")
    result = diff(cli, env_repo, "--app", str(EXAMPLES / "shop"), "--env", "dev", "--format", "json")
    body = json.loads(result.output)
    assert result.exit_code == 0 and body["empty"] is True and body["changes"] == []


def test_replicas_in_the_production_profile_changes_exactly_the_prod_deployments(
    cli: Cli, env_repo: Path, project: Path
) -> None:
    edit(project / "platform-config/profiles/production.yaml", "replicas: 3", "replicas: 4")
    result = diff(cli, env_repo, "--all-apps", "--format", "json", "--exit-code", root=project)
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert [(c["scope"], c["path"], c["status"], c["kind"]) for c in body["changes"]] == [
        (
            "prod/billing",
            "kubernetes/prod/billing/invoicer/deployment-invoicer.yaml",
            "changed",
            "Deployment",
        ),
        ("prod/shop", "kubernetes/prod/shop/api/deployment-api.yaml", "changed", "Deployment"),
        # web is autoscaled: its HPA owns the replica count, the profile's does not reach it
        ("prod/shop", "kubernetes/prod/shop/worker/deployment-worker.yaml", "changed", "Deployment"),
    ]
    for c in body["changes"]:
        assert changed_lines(c["diff"]) == ["-  replicas: 3", "+  replicas: 4"]
        assert c["target"] == "render/prod/all-apps"  # compared with the open MR branch
    assert [(s["scope"], s["changed"]) for s in body["summary"]] == [("prod/billing", 1), ("prod/shop", 2)]


def test_a_score_change_shows_only_its_objects(cli: Cli, env_repo: Path, tmp_path: Path) -> None:
    shop = tmp_path / "apps" / "shop"
    shutil.copytree(EXAMPLES / "shop", shop)
    edit(shop / "score-web.yaml", "memory: 256Mi", "memory: 384Mi")
    result = diff(cli, env_repo, "--app", str(shop), "--env", "dev", "--env", "staging", "--exit-code")
    assert result.exit_code == 1, result.output
    headings = [line for line in result.output.splitlines() if line.startswith("# ")]
    assert headings == [
        "# dev/shop: changed Deployment kubernetes/dev/shop/web/deployment-web.yaml",
        "# staging/shop: changed Deployment kubernetes/staging/shop/web/deployment-web.yaml",
    ]
    assert changed_lines(result.output) == ["-            memory: 256Mi", "+            memory: 384Mi"] * 2


def test_key_order_and_formatting_in_the_env_repo_are_no_change(
    cli: Cli, env_repo: Path, tmp_path: Path
) -> None:
    path = "kubernetes/dev/shop/web/deployment-web.yaml"
    original = git("--git-dir", str(env_repo), "show", f"main:{path}")
    lines = original.splitlines()
    reordered = "\n".join(lines[lines.index("spec:") :] + lines[: lines.index("spec:")]) + "\n"
    assert reordered != original + "\n"
    push_edit(
        env_repo, tmp_path, path, "# edited by hand\n" + reordered.replace("  replicas: 1", "  replicas:   1")
    )
    assert git("--git-dir", str(env_repo), "show", f"main:{path}") != original  # git sees a change
    result = diff(cli, env_repo, "--app", str(EXAMPLES / "shop"), "--env", "dev", "--exit-code")
    assert (result.exit_code, result.output) == (0, "no changes\n")


def test_a_secret_change_never_shows_a_value(cli: Cli, env_repo: Path, tmp_path: Path) -> None:
    value = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\n  namespace: shop-dev\n"
        f"data:\n  password: {value}\nstringData:\n  token: plain-text-token-value\n"
    )
    push_edit(env_repo, tmp_path, "kubernetes/dev/shop/web/secret-leaked.yaml", secret)
    for fmt in ("text", "markdown", "json"):
        result = diff(cli, env_repo, "--app", str(EXAMPLES / "shop"), "--env", "dev", "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "secret-leaked.yaml" in result.output  # the render removes what it does not produce
        assert value not in result.output and "plain-text-token-value" not in result.output
        assert "redacted: 28 bytes, removed" in result.output


def test_markdown_too_long_is_shortened_with_fences_closed_and_the_artifact_named(
    cli: Cli, tmp_path: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against an empty environment repo, everything is new: far more than a 20,000-character note."""
    monkeypatch.chdir(tmp_path)  # in CI the artifact is a path in the job's folder
    artifact, note = tmp_path / "renderer-diff.txt", tmp_path / "note.md"
    args = ["--app", str(EXAMPLES / "shop"), "--format", "markdown", "--limit", "20000"]
    result = diff(cli, bare_repo, *args, "--artifact", "renderer-diff.txt", "--output", str(note))
    assert (result.exit_code, result.output) == (0, "")
    md = note.read_text()
    assert len(md) <= 20_000
    shown = len(fences(md))  # every fence closed, none closable by its content
    assert shown >= 1 and md.count("<details><summary>") == md.count("</details>") >= 1
    assert md.endswith("The full diff is the job artifact <code>renderer-diff.txt</code>.\n")
    left = next(
        (
            int(line.strip("*").split()[0])
            for line in md.splitlines()
            if " not shown here (see" in line and line.startswith("*") and "object" in line
        ),
        0,
    )
    full = artifact.read_text()  # the text format, whole: every object the note shows or counts
    assert len(full) > 100_000 and full.count("\n# ") == shown + left


def test_a_protected_env_without_an_mr_branch_is_compared_with_main(cli: Cli, env_repo: Path) -> None:
    result = diff(cli, env_repo, "--app", str(EXAMPLES / "shop"), "--env", "prod", "--format", "json")
    body = json.loads(result.output)
    assert {c["target"] for c in body["changes"]} == {"render/prod/shop"}  # no such branch: main lacks prod
    assert {c["status"] for c in body["changes"] if c["path"] != "atlantis.yaml"} == {"added"}
    assert "kubernetes/prod/shop/api/deployment-api.yaml" in [c["path"] for c in body["changes"]]


def test_nothing_to_compare_is_a_usage_error(cli: Cli, env_repo: Path) -> None:
    result = diff(cli, env_repo)
    assert result.exit_code == 2 and "nothing to compare: give --app DIR or --all-apps" in result.output


def test_post_note_needs_the_merge_request_variables(cli: Cli, env_repo: Path) -> None:
    result = diff(cli, env_repo, "--all-apps", "--post-note")
    assert result.exit_code == 2
    assert (
        "--post-note needs RENDERER_GITLAB_URL or CI_SERVER_URL, RENDERER_GITLAB_TOKEN or GITLAB_TOKEN, "
        "CI_MERGE_REQUEST_PROJECT_ID, CI_MERGE_REQUEST_IID" in result.output
    )


def test_post_note_creates_then_updates_one_note_and_leaves_a_foreign_one(
    cli: Cli, env_repo: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renderer.adapters.gitlab import MergeRequests
    from renderer.cli.diff import MARKER

    with FakeGitLab() as gl:
        MergeRequests(gl.url, OTHER_TOKEN, "77").note(5, MARKER, "pasted by someone else")
        for key, value in {
            "CI_SERVER_URL": gl.url,
            "GITLAB_TOKEN": TOKEN,
            "CI_PROJECT_ID": "99",  # a fork's pipeline: not where the MR lives
            "CI_MERGE_REQUEST_PROJECT_ID": "77",
            "CI_MERGE_REQUEST_IID": "5",
        }.items():
            monkeypatch.setenv(key, value)
        first = diff(cli, env_repo, "--all-apps", "--post-note")
        assert first.exit_code == 0 and "note on !5: created" in first.output
        edit(project / "platform-config/profiles/production.yaml", "replicas: 3", "replicas: 5")
        second = diff(cli, env_repo, "--all-apps", "--post-note", "--format", "json", root=project)
        assert second.exit_code == 0 and "note on !5: updated" in second.output
        notes = {n["author"]["username"]: n["body"] for n in gl.notes[5]}
        assert notes["mallory"] == f"{MARKER}\npasted by someone else"
        ours = notes["renderer-bot"]
        assert ours.startswith(f"{MARKER}\n### Rendered diff") and "**3 objects changed** in 2 scopes" in ours
        assert "+  replicas: 5" in ours and len(gl.notes[5]) == 2
        assert all("/projects/77/" in r for r in gl.requests if "/projects/" in r)
        assert TOKEN not in first.output + second.output


def test_an_app_is_named_as_publish_names_it(cli: Cli, env_repo: Path, tmp_path: Path) -> None:
    """In CI the checkout's folder is not the app's name: the owner (--app-id, or a verified ID token
    with --id-token-var) names it, as publish does."""
    checkout = tmp_path / "builds" / "checkout"
    shutil.copytree(EXAMPLES / "shop", checkout)
    named = diff(
        cli, env_repo, "--app", str(checkout), "--app-id", "team-a/shop", "--env", "dev", "--exit-code"
    )
    assert (named.exit_code, named.output) == (0, "no changes\n")
    by_folder = diff(cli, env_repo, "--app", str(checkout), "--env", "dev")  # another app, "checkout"
    assert by_folder.exit_code == 3
    assert "shared resource kafka-topic.default#shop-orders belongs to app 'shop'" in by_folder.output
    two = diff(
        cli, env_repo, "--app", str(checkout), "--app", str(EXAMPLES / "billing"), "--app-id", "t/shop"
    )
    assert two.exit_code == 2 and "--id-token-var and --app-id name one app: give one --app" in two.output
