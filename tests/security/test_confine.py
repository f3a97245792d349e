"""Reading inside a root: each refusal of `confine.Root`, and the owners record's own failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from renderer.errors import PublishError
from renderer.inputs.confine import ConfinementError, Root, split
from renderer.publish import bookkeeping
from tests.conftest import python_in_ascii_locale, write


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
