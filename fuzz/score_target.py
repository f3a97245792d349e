"""Fuzz target: loading an app whose Score file (and optional override) are the input raises only
RendererError, and every problem names a file and a line ≥ 0. The input is the Score file; after a
line `#override` the rest is the app's override for environment `dev`.
Run through fuzz/run.sh, or: python fuzz/score_target.py [libFuzzer flags]"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["renderer"]):
    from renderer.errors import InputError, RendererError
    from renderer.inputs.app_repo import load_apps

ROOT = tempfile.mkdtemp(prefix="renderer-fuzz-score-")
APP = os.path.join(ROOT, "app")
NAME = re.compile(rb"^  name: *([a-z0-9-]{1,63}) *$", re.M)
SOURCES = {"extra.conf": b"x", "mime.extra": b"x", "from-disk.txt": b"x"}  # the seeds' `source:` files


def write_app(data: bytes) -> None:
    shutil.rmtree(APP, ignore_errors=True)
    os.makedirs(APP)
    score, _, override = data.partition(b"\n#override\n")
    files = {"score.yaml": score, **SOURCES}
    if override:
        match = NAME.search(score)
        files[f"overrides/dev/{match.group(1).decode() if match else 'app'}.yaml"] = override
    for rel, content in files.items():
        path = os.path.join(APP, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(content)


def test_one_input(data: bytes) -> None:
    write_app(data)
    try:
        load_apps([APP], ROOT)
    except RendererError as exc:
        problems = exc.problems() if isinstance(exc, InputError) else []
        assert isinstance(exc, InputError) and problems, f"{type(exc).__name__}: {exc}"
        for p in problems:
            assert p.file.startswith("app") and p.line >= 0 and p.message, p


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
