"""`writer._Guard` (folders resolved once, for writing many files) confines a write exactly as
resolving each whole path does, through every kind of link an output directory may hold."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from renderer.errors import UsageError
from renderer.publish import writer

RELS = [
    "a.yaml",
    "dir/a.yaml",
    "dir/sub/a.yaml",
    "inside/a.yaml",
    "inside/sub/a.yaml",
    "outside/a.yaml",
    "dir/to-file-inside",
    "dir/to-file-outside",
    "dir/dangling-inside",
    "dir/dangling-outside",
    "dir/..",
    "dir/.",
    "../escape.yaml",
    "dir/../../escape.yaml",
    "missing/deeper/a.yaml",
    "dir/to-dir-outside/x",
]


def _whole(root: str, rel: str) -> str:
    """The rule: the whole path's real path, below the root's."""
    full = os.path.realpath(os.path.join(root, rel))
    if not full.startswith(os.path.realpath(root) + os.sep):
        raise UsageError(f"refusing to write outside the output directory: {rel}")
    return full


def _answer(call: Callable[[], str]) -> str:
    try:
        return str(call())
    except UsageError as exc:
        return f"refused: {exc}"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (root / "dir" / "sub").mkdir(parents=True)
    (elsewhere / "sub").mkdir(parents=True)
    (root / "dir" / "target").write_text("t")
    (elsewhere / "file").write_text("f")
    (root / "inside").symlink_to(root / "dir", target_is_directory=True)
    (root / "outside").symlink_to(elsewhere, target_is_directory=True)
    (root / "dir" / "to-file-inside").symlink_to(root / "dir" / "target")
    (root / "dir" / "to-file-outside").symlink_to(elsewhere / "file")
    (root / "dir" / "dangling-inside").symlink_to(root / "dir" / "nothing")
    (root / "dir" / "dangling-outside").symlink_to(elsewhere / "nothing")
    (root / "dir" / "to-dir-outside").symlink_to(elsewhere, target_is_directory=True)
    return root


def test_the_guard_of_many_paths_answers_as_the_guard_of_one(out: Path) -> None:
    guard = writer._Guard(str(out))
    for rel in [*RELS, *reversed(RELS)]:  # the folders' cache, filled in either order
        assert _answer(lambda: guard(rel)) == _answer(lambda: _whole(str(out), rel)), rel  # noqa: B023
    assert _answer(lambda: guard("dir/to-file-outside")).startswith("refused")
    assert _answer(lambda: guard("outside/a.yaml")).startswith("refused")
    assert guard("dir/to-file-inside") == str(out.resolve() / "dir" / "target")


def test_a_refused_write_changes_nothing(tmp_path: Path) -> None:
    """A path that leads outside the output directory (through a folder link someone planted,
    which the directory's listing does not enter) is refused before anything is deleted or
    written, as when every path was read to compare it."""
    from renderer.inputs import platform_config
    from tests.conftest import ROOT

    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    app = out / "kubernetes" / "dev" / "app"
    app.mkdir(parents=True)
    elsewhere.mkdir()
    (app / "old.yaml").write_text("old\n")
    (app / "sub").symlink_to(elsewhere, target_is_directory=True)
    tree = {"kubernetes/dev/app/a.yaml": b"a\n", "kubernetes/dev/app/sub/x.yaml": b"x\n"}
    platform = platform_config.load_platform(str(ROOT))
    with pytest.raises(
        UsageError, match="refusing to write outside the output directory: kubernetes/dev/app/sub"
    ):
        writer.write_rendered(str(out), tree, ["kubernetes/dev/app/"], platform)
    assert sorted(p.name for p in app.iterdir()) == ["old.yaml", "sub"] and not list(elsewhere.iterdir())


def test_a_named_pipe_at_a_rendered_path_is_replaced_not_read(tmp_path: Path) -> None:
    """Comparing a rendered file with what the directory holds must not open a named pipe found
    there (the read would wait forever): the file takes its place."""
    import subprocess
    import sys

    out = tmp_path / "out"
    (out / "kubernetes" / "dev").mkdir(parents=True)
    os.mkfifo(out / "kubernetes" / "dev" / "a.yaml")
    script = (
        "import sys\n"
        "from renderer.inputs import platform_config\n"
        "from renderer.publish import writer\n"
        "from tests.conftest import ROOT\n"
        "platform = platform_config.load_platform(str(ROOT))\n"
        "tree = {'kubernetes/dev/a.yaml': b'a\\n'}\n"
        "writer.write_rendered(sys.argv[1], tree, ['kubernetes/dev/'], platform)\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", script, str(out)], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "kubernetes" / "dev" / "a.yaml").read_bytes() == b"a\n"
