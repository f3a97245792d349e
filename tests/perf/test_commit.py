"""The publish commit is built by `git fast-import` from bytes in memory (`gitrepo.commit_files`):
the tree, message and identity are what `git add -A && git commit` of the same files gives, and a
path fast-import would read differently is refused before anything is built."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from renderer.adapters import gitrepo
from renderer.errors import PublishError
from renderer.publish import writer
from tests.conftest import git, python_in_ascii_locale

FILES = {
    "kubernetes/dev/shop/web/deployment-web.yaml": b"kind: Deployment\r\nname: caf\xc3\xa9\n",
    "kubernetes/dev/shop/web/a file with spaces.yaml": b"",
    "terraform/dev/shop/main.tf.json": b'{"x": "\\u00e9"}',
    "caf\u00e9/\u00fcber.txt": b"non-ASCII path and bytes\n",
    "binary.bin": bytes(range(256)),
}


def _repo(tmp_path: Path) -> gitrepo.Repo:
    return gitrepo.open_clone(str(tmp_path / "none.git"), str(tmp_path / "clone"), "main", os.environ)


def _tree(path: Path, ref: str) -> dict[str, str]:
    out = git("ls-tree", "-r", "-z", "--full-tree", ref, cwd=path)
    listed = (entry.split("\t", 1) for entry in out.split("\0") if entry)
    return {name: meta for meta, name in listed}


def test_the_commit_holds_what_git_add_and_commit_would(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    message = "render(dev): shop  \n\n\n3 files written.   \n\ntrailer: x\n\n"
    first = gitrepo.commit_files(repo, None, FILES, (), message, "A <b> Name\n <a@b.invalid>")
    assert first is not None
    reference = tmp_path / "reference"
    git("init", "-q", "-b", "main", str(reference))
    git("config", "core.autocrlf", "false", cwd=reference)
    for rel, data in FILES.items():
        (reference / rel).parent.mkdir(parents=True, exist_ok=True)
        (reference / rel).write_bytes(data)
    git("add", "-A", cwd=reference)
    (tmp_path / "message").write_text(message)
    git(
        "-c",
        "user.name=n",
        "-c",
        "user.email=e@x",
        "commit",
        "-q",
        "-F",
        str(tmp_path / "message"),
        cwd=reference,
    )
    clone = Path(repo.path)
    assert _tree(clone, first) == _tree(reference, "HEAD")
    assert git("log", "-1", "--format=%B", first, cwd=clone) == git("log", "-1", "--format=%B", cwd=reference)
    who = git("log", "-1", "--format=%an|%ae|%cn|%ce|%P", first, cwd=clone)
    assert who == "A|b Name a@b.invalid|A|b Name a@b.invalid|"  # a root commit; no line breaks kept
    # an identity that tries to add header lines stays one name and one address
    sneaky = gitrepo.commit_files(
        repo, first, {"x": b"1"}, (), "m", "Eve <e@x>\ncommitter Mallory <m@x> 0 +0000"
    )
    headers = git("cat-file", "-p", str(sneaky), cwd=clone).split("\n\n")[0].splitlines()
    assert [h.split(" ")[0] for h in headers] == ["tree", "parent", "author", "committer"]
    assert "Mallory" not in git("log", "-1", "--format=%an%cn", str(sneaky), cwd=clone)
    # on top of it: a change, a deletion, an untouched file
    changed = {"binary.bin": b"new", "kubernetes/dev/shop/new.yaml": b"n: 1\n"}
    second = gitrepo.commit_files(repo, sneaky, changed, ["terraform/dev/shop/main.tf.json"], "m", "a <a@b>")
    assert second is not None and git("rev-parse", f"{second}^", cwd=clone) == sneaky
    expected = {**FILES, "x": b"1", **changed}
    del expected["terraform/dev/shop/main.tf.json"]
    found = gitrepo.read_files(repo, second, sorted(expected) + ["terraform/dev/shop/main.tf.json"])
    assert found == expected
    assert gitrepo.commit_files(repo, second, {}, (), "m", "a <a@b>") is None


def test_holds_agrees_with_the_object_ids_git_computes(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    head = gitrepo.commit_files(repo, None, FILES, (), "m", "a <a@b>")
    assert head is not None
    gitrepo.checkout(repo, "main", head)
    same = gitrepo.holds(gitrepo.index(repo.path))
    assert all(same(path, data) for path, data in FILES.items())
    assert not same("binary.bin", bytes(range(255)))
    assert not same("missing.txt", b"")


@pytest.mark.parametrize(
    "path",
    [
        "a\nb",
        "a\rb",
        "tab\there",
        '"quoted"',
        "/abs",
        "a//b",
        "a/./b",
        "a/../b",
        "..",
        ".git/config",
        "x/.GIT/hooks/post-commit",
        "trailing/",
        "nul\0x",
        "del\x7f",
    ],
)
def test_a_path_fast_import_would_misread_is_refused_before_anything_is_built(
    tmp_path: Path, path: str
) -> None:
    repo = _repo(tmp_path)
    with pytest.raises(PublishError, match="not a plain relative path"):
        gitrepo.commit_files(repo, None, {"ok.txt": b"1", path: b"x"}, (), "m", "a <a@b>")
    with pytest.raises(PublishError, match="not a plain relative path"):
        gitrepo.commit_files(repo, None, {"ok.txt": b"1"}, [path], "m", "a <a@b>")
    assert (
        subprocess.run(
            ["git", "-C", repo.path, "rev-parse", "-q", "--verify", gitrepo.COMMIT_REF], capture_output=True
        ).returncode
        != 0
    )


def test_apply_writes_the_plan_and_removes_a_link_not_its_target(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "kubernetes" / "dev").mkdir(parents=True)
    outside = tmp_path / "outside.yaml"
    outside.write_text("keep me\n")
    (out / "kubernetes" / "dev" / "old.yaml").symlink_to(outside)
    (out / "kubernetes" / "dev" / "same.yaml").write_bytes(b"same\n")
    tree = {"kubernetes/dev/same.yaml": b"same\n", "kubernetes/dev/new/x.yaml": b"x\n"}
    existing = writer.list_files(str(out))
    result = writer.plan_tree(
        tree, ["kubernetes/dev/"], existing, lambda p, d: (out / p).is_file() and (out / p).read_bytes() == d
    )
    assert (result.written, result.deleted, result.unchanged) == (
        ("kubernetes/dev/new/x.yaml",),
        ("kubernetes/dev/old.yaml",),
        1,
    )
    writer.apply(str(out), result)
    assert outside.read_text() == "keep me\n"
    assert sorted(writer.list_files(str(out))) == sorted(tree)


@pytest.mark.parametrize(
    "path",
    [".render/apps/a/.git./x", ".render/apps/a/.GIT /x", ".render/apps/a/git~1/x", "a/.git\u200c/x"],
)
def test_a_path_git_would_not_check_out_is_refused_before_the_push(tmp_path: Path, path: str) -> None:
    """fast-import writes any path; git refuses these on checkout (a `.git` on NTFS or HFS+), which
    would stop every later publish to the repo. The tree is read by git with both protections on."""
    repo = _repo(tmp_path)
    with pytest.raises(PublishError, match="git refuses a path of the rendered tree"):
        gitrepo.commit_files(repo, None, {"ok.txt": b"1", path: b"x"}, (), "m", "a <a@b>")


def test_a_path_s_bytes_reach_git_s_check_whatever_the_locale(tmp_path: Path) -> None:
    """Paths go to git and come back as UTF-8, as fast-import writes them: a process whose locale
    is ASCII commits a non-ASCII path, reads it back from git's index, and still refuses a `.git`
    HFS+ would see."""
    script = (
        "import os, sys\n"
        "from renderer.adapters import gitrepo\n"
        "from renderer.errors import PublishError\n"
        "repo = gitrepo.open_clone(sys.argv[1] + '/none.git', sys.argv[1] + '/clone', 'main', os.environ)\n"
        "print(bool(gitrepo.commit_files(repo, None, {'apps/caf\\u00e9.yaml': b'1'}, (), 'm', 'a <a@b>')))\n"
        "repo.git('update-ref', 'HEAD', gitrepo.COMMIT_REF)\n"
        "repo.git('read-tree', 'HEAD')\n"
        "print(ascii(list(gitrepo.index(repo.path))))\n"  # git's text output, decoded as UTF-8
        "try:\n"
        "    gitrepo.commit_files(repo, None, {'a/.git\\u200c/x': b'1'}, (), 'm', 'a <a@b>')\n"
        "except PublishError as exc:\n"
        "    print(exc)\n"
    )
    first, listed, refused = python_in_ascii_locale(script, str(tmp_path)).splitlines()
    assert first == "True" and "git refuses a path of the rendered tree" in refused
    assert listed == "['apps/caf\\xe9.yaml']"


def test_a_path_that_is_both_a_file_and_a_folder_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with pytest.raises(PublishError, match="'a/b': it is both a file and a folder"):
        gitrepo.commit_files(repo, None, {"a/b": b"1", "a/b/c": b"2"}, (), "m", "a <a@b>")
