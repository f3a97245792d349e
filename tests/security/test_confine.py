"""Reading inside a root: each refusal of `confine.Root`, and the owners record's own failures."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from renderer.adapters import gitrepo
from renderer.errors import PublishError
from renderer.inputs.confine import ConfinementError, Listed, Root, split
from renderer.publish import bookkeeping
from tests.conftest import git, python_in_ascii_locale, write


@pytest.mark.parametrize(
    ("rel", "why"),
    [
        ("", "is empty or holds a NUL byte"),
        ("a\0b", "is empty or holds a NUL byte"),
        ("/etc/passwd", "is absolute"),
        ("a/../../b", "climbs out of its folder with '..'"),
        ("./.", "names the folder itself"),
        ("conf\nig.yaml", "holds a control character"),
        ("a\tb/c", "holds a control character"),
        ("x\x7f", "holds a control character"),
    ],
)
def test_paths_that_are_refused_as_text(rel: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        split(rel)


def _root(tmp_path: Path, limit: int = 16) -> Root:
    write(tmp_path / "app/ok.txt", "fine\n")
    write(tmp_path / "app/big.txt", "x" * (limit + 1))
    write(tmp_path / "secret.txt", "not yours\n")
    (tmp_path / "app/link.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "app/up").symlink_to(tmp_path)
    os.mkfifo(tmp_path / "app/pipe")
    (tmp_path / "app/folder").mkdir()
    return Root(str(tmp_path / "app"), "apps/x", max_bytes=limit)


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ("link.txt", "apps/x/link.txt: this path is or passes through a symbolic link"),
        ("up/secret.txt", "apps/x/up/secret.txt: this path is or passes through a symbolic link"),
        ("pipe", "apps/x/pipe: this path is not a regular file"),
        ("folder", "apps/x/folder: this path is not a regular file"),
        ("missing.txt", "apps/x/missing.txt: this path does not exist"),
        ("ok.txt/inner", "apps/x/ok.txt/inner: this path passes through something that is not a folder"),
        ("big.txt", "apps/x/big.txt: this path is larger than 16 bytes"),
    ],
)
def test_reads_that_are_refused(tmp_path: Path, rel: str, message: str) -> None:
    root = _root(tmp_path)
    with pytest.raises(ConfinementError) as err:
        root.read(rel)
    assert err.value.problems()[0].render().startswith(f"platform: {message}")


def test_a_read_names_the_file_that_asked(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert root.read("ok.txt") == b"fine\n"
    with pytest.raises(ConfinementError) as err:
        root.read("link.txt", "containers.main.files", owner_file="apps/x/score.yaml")
    problem = err.value.problems()[0]
    assert (problem.file, problem.path, problem.message) == (
        "apps/x/score.yaml",
        "containers.main.files",
        "'link.txt' is or passes through a symbolic link",
    )


def test_listing_and_kinds_never_follow_links(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert dict(root.listdir()) == {
        "big.txt": "file",
        "folder": "dir",
        "link.txt": "link",
        "ok.txt": "file",
        "pipe": "other",
        "up": "link",
    }
    assert root.kind("up/secret.txt") == "missing"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json", "Expecting value"),
        ('{"version": 2, "apps": {}, "resources": {}}', "version 2, expected 1"),
        ('{"version": 1, "apps": {}}', "'resources'"),
    ],
)
def test_a_damaged_owners_record_stops_the_publish(tmp_path: Path, text: str, why: str) -> None:
    write(tmp_path / bookkeeping.OWNERS, text)
    with pytest.raises(PublishError) as err:
        bookkeeping.read_owners(str(tmp_path))
    assert str(err.value).startswith(".render/owners.json is damaged (")
    assert why in str(err.value)
    assert str(err.value).endswith("restore it from the repo's history")


def test_a_name_this_machine_cannot_encode_is_an_input_error(tmp_path: Path) -> None:
    """Under a locale whose file-name encoding is ASCII (only when Python is told to keep it), a
    non-ASCII name is refused with a clear message instead of an internal error."""
    write(tmp_path / "app" / "caf\u00e9.txt", "x")
    script = (
        "import sys\n"
        "from renderer.inputs.confine import ConfinementError, Root\n"
        "try:\n"
        "    Root(sys.argv[1], 'app').read('caf\\u00e9.txt')\n"
        "except ConfinementError as exc:\n"
        "    print(ascii(exc.problems()[0].message))\n"
    )
    printed = python_in_ascii_locale(script, str(tmp_path / "app"))
    assert "file-name encoding: run with a UTF-8 locale" in printed


def _outcome(call: Callable[..., object], *args: str) -> object:
    """What the call gives, or the words of its refusal."""
    try:
        return call(*args)
    except ConfinementError as exc:
        return [p.render() for p in exc.problems()]


def test_a_folder_read_from_git_s_objects_reads_as_its_checkout(tmp_path: Path) -> None:
    """`Listed` (a stored app's folder as git's objects hold it) answers every read, kind and
    listing exactly as `Root` does on a checkout of the same commit: the same bytes, the same
    refusals in the same words. Links, a submodule, an executable, a file past the size limit,
    nested folders, paths that climb, cross a file or do not exist, names too long for the
    system, and folders named as they are not normally written."""
    source = tmp_path / "source"
    write(source / "store/app/ok.txt", "fine\n")
    write(source / "store/app/big.txt", "x" * 17)
    write(source / "store/app/dir/inner.yaml", "a: 1\n")
    write(source / "store/app/dir/deeper/f", "deep\n")
    write(source / "store/app/run.sh", "#!/bin/sh\n").chmod(0o755)
    write(source / "store/secret.txt", "not yours\n")
    (source / "store/app/link.txt").symlink_to("../secret.txt")
    (source / "store/app/linkdir").symlink_to("dir")
    git("init", "-q", str(source))
    git("-C", str(source), "add", "-A")
    # a submodule: any commit id stands for its commit, which a clone does not fetch
    git("-C", str(source), "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},store/app/sub")
    git("-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    checkout = tmp_path / "checkout"
    git("clone", "-q", str(source), str(checkout))
    repo = gitrepo.local(str(checkout))
    entries = {f"app/{p}": (mode, oid) for p, (mode, oid, _) in gitrepo.folders(repo, "store")["app"].items()}
    data = gitrepo.read_files(
        repo, "", [f"store/{p}" for p in sorted(entries)], {f"store/{p}": e for p, e in entries.items()}
    )
    files = {p.removeprefix("app/"): (mode, data.get(f"store/{p}")) for p, (mode, _) in entries.items()}
    on_disk = Root(str(checkout / "store/app"), "apps/x", max_bytes=16)
    listed = Listed(str(checkout / "store/app"), "apps/x", 16, 1000, files)
    paths = [
        "ok.txt", "big.txt", "run.sh", "link.txt", "linkdir", "linkdir/inner.yaml", "dir",
        "dir/inner.yaml", "./dir//deeper/f", "dir/deeper", "dir/missing", "missing", "ok.txt/x",
        "sub", "sub/x", "../secret.txt", "/etc/passwd", "", "dir/../ok.txt",
        "L" * 300, "dir/" + "L" * 300, "L" * 300 + "/x", "missing/" + "L" * 300,
    ]  # fmt: skip
    for rel in paths:
        for args in ((rel,), (rel, "a.b", "apps/x/score.yaml")):
            assert _outcome(listed.read, *args) == _outcome(on_disk.read, *args), args
        assert listed.kind(rel) == on_disk.kind(rel), rel
    folders = ["", "dir", "dir/deeper", "sub", "linkdir", "missing", "ok.txt", "link.txt", "L" * 300]
    for rel in [*folders, "./linkdir", "linkdir/", "ok.txt/", "./missing", "missing/", "./dir/"]:
        assert _outcome(listed.listdir, rel) == _outcome(on_disk.listdir, rel), rel
    assert listed.read("run.sh") == b"#!/bin/sh\n"
    few = Root(str(checkout / "store/app"), "apps/x", 16, max_entries=2)
    assert _outcome(Listed(few.path, "apps/x", 16, 2, files).listdir) == _outcome(few.listdir)
    assert "more than 2 entries" in str(_outcome(few.listdir))
