"""The hostile-input corpus: bad app repos, end to end, through validate, render and publish.

A case is a folder `tests/cases/hostile/<case>/`: the app as its developer would commit it (score*.yaml,
overrides/<env>/<workload>.yaml, file sources) plus `expected.yaml`, which the loader never reads (it
opens only score*.yaml, overrides/ and the files a `source:` names) and which is not copied with the
app. Inputs git cannot hold comfortably (links, FIFOs, NUL and control bytes, non-UTF-8, huge or very
deep files) are made by the case's entry in GENERATORS, after its folder is copied.

`expected.yaml`:

    about: what the case tries                        (one line, for people)
    app: name                                         (the app's folder name; default: the case name)
    exit: 3                                           (for every command)
    problems: [{file, line, path, message, hint}]     (exactly as `--format json` reports them)
    render: {exit, problems}                          (optional: where one command differs)
    publish: {exit, problems}

Every case runs, in process, `validate`, `render --all-envs` and `publish --all-envs` with the app at
`<project>/apps/<app>`, so files are named `apps/<app>/...`. Each run must exit as expected with exactly
the expected problems and write nothing: no output folder contents, no ref in the environment repo,
no change under the project, nothing left in the temporary directory, the case folder untouched.

To add a case: make the folder, then `python -m tests.test_hostile <case>` prints what today's renderer
reports as an `expected.yaml` (`--write` writes it); review every line before committing it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest
import yaml
from click.testing import CliRunner

from renderer.cli import main
from renderer.inputs import platform_config
from renderer.model import Platform
from tests.conftest import ROOT, git, init_bare

CASES = Path(__file__).resolve().parent / "cases" / "hostile"
EXPECTED = "expected.yaml"
COMMANDS = ("validate", "render", "publish")
SECONDS_PER_RUN = 10  # a hang is a failure, not a stuck suite

SCORE = """apiVersion: score.dev/v1b1
metadata:
  name: web
containers:
  main:
    image: ghcr.io/example/web:1.0.0
"""


# ---- generators: inputs made at test time ----------------------------------------------------

Generator = Callable[[Path], None]


def _put(rel: str, data: bytes | str) -> Generator:
    """Write one file of the app (bytes as given, text as UTF-8)."""

    def make(app: Path) -> None:
        path = app / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))

    return make


def _link(rel: str, target: str) -> Generator:
    """A symbolic link in the app; a relative target starting with `../` may leave the app."""

    def make(app: Path) -> None:
        path = app / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)

    return make


def _fifo(rel: str) -> Generator:
    def make(app: Path) -> None:
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(app / rel)

    return make


def _sparse(rel: str, size: int) -> Generator:
    """A file of `size` bytes that takes no disk space (a hole), so 1 GB costs nothing."""

    def make(app: Path) -> None:
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        with open(app / rel, "wb") as fh:
            fh.truncate(size)

    return make


def _victim(app: Path) -> None:
    """Another app beside this one, with a file its team would not share."""
    victim = app.parent / "victim"
    (victim / "config").mkdir(parents=True, exist_ok=True)
    (victim / "score.yaml").write_text(SCORE)
    (victim / "config" / "secret.txt").write_text("the victim's file\n")


def _all(*makers: Generator) -> Generator:
    def make(app: Path) -> None:
        for maker in makers:
            maker(app)

    return make


def _with_value(raw: bytes) -> bytes:
    """The base Score file with one variable whose plain (unquoted) value holds `raw` bytes."""
    return SCORE.encode() + b"    variables:\n      GREETING: hello" + raw + b"world\n"


def _nested(depth: int) -> str:
    """A variable value nested `depth` block lists deep, in YAML's compact form: `- - - leaf`."""
    return SCORE + "    variables:\n      DEEP:\n        " + "- " * depth + "leaf\n"


def _alias_bomb(levels: int, width: int) -> str:
    """`levels` anchors, each a list of `width` aliases of the one before: width**levels values."""
    lines = ["a0: &a0 [lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + SCORE


GENERATORS: dict[str, Generator] = {
    "alias-bomb-huge": _put("score.yaml", _alias_bomb(levels=40, width=40)),
    "nesting-5000-deep-block": _put("score.yaml", _nested(5000)),
    "nesting-5000-deep-flow": _put("score.yaml", SCORE + "    args: " + "[" * 5000 + "]" * 5000 + "\n"),
    "raw-bel-in-value": _put("score.yaml", _with_value(b"\x07")),
    "raw-esc-in-value": _put("score.yaml", _with_value(b"\x1b[2J")),
    "raw-nul-in-value": _put("score.yaml", _with_value(b"\x00")),
    "raw-nul-in-override": _put("overrides/dev/web.yaml", b"containers:\n  main:\n    image: a\x00b\n"),
    "score-not-utf8": _put("score.yaml", SCORE.replace("web:1", "caf\xe9:1").encode("latin-1")),
    "score-utf16": _put("score.yaml", SCORE.encode("utf-16")),
    "score-binary": _put("score.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
    "score-1gb": _sparse("score.yaml", 1 << 30),
    "score-fifo": _fifo("score.yaml"),
    "score-link-etc-passwd": _all(_link("score.yaml", "/etc/passwd"), _put("score-real.yaml", SCORE)),
    "score-link-other-app": _all(_victim, _link("score.yaml", "../victim/score.yaml")),
    "score-name-newline": _put("score-\n.yaml", SCORE),
    "score-name-ansi": _put("score-\x1b[31mred.yaml", SCORE),
    "app-folder-empty": lambda app: app.mkdir(parents=True, exist_ok=True),
    "override-symlink-etc-passwd": _link("overrides/dev/web.yaml", "/etc/passwd"),
    "override-env-link-etc": _link("overrides/dev", "/etc"),
    "override-fifo": _fifo("overrides/dev/web.yaml"),
    "override-not-utf8": _put("overrides/dev/web.yaml", "# caf\xe9\ncontainers: {}\n".encode("latin-1")),
    "source-link-etc-passwd": _link("conf.txt", "/etc/passwd"),
    "source-link-other-app": _all(_victim, _link("shared", "../victim/config")),
    "source-fifo": _fifo("conf.txt"),
    "source-1gb": _sparse("conf.txt", 1 << 30),
    "long-string-value": _put("score.yaml", SCORE + "    variables:\n      BIG: " + "x" * 900_000 + "\n"),
    "long-annotation-value": _put(
        "score.yaml",
        SCORE.replace("  name: web\n", "  name: web\n  annotations:\n    note: " + "x" * 300_000 + "\n"),
    ),
    "big-integer": _put(
        "score.yaml", SCORE + "service:\n  ports:\n    http:\n      port: 1" + "0" * 5000 + "\n"
    ),
}


# ---- running a case --------------------------------------------------------------------------


def _cases() -> list[str]:
    return sorted(p.parent.name for p in CASES.glob(f"*/{EXPECTED}"))


def _expected(case: str) -> dict[str, object]:
    data = yaml.safe_load((CASES / case / EXPECTED).read_text(encoding="utf-8"))
    assert isinstance(data, dict), case
    return data


def _build(case: str, project: Path) -> Path:
    """The case's app at `<project>/apps/<app>`: its folder without expected.yaml, then its generator."""
    app = project / "apps" / str(_expected(case).get("app", case))
    shutil.copytree(CASES / case, app, ignore=shutil.ignore_patterns(EXPECTED), symlinks=True)
    GENERATORS.get(case, lambda _: None)(app)
    return app


def _args(command: str, project: Path, app: Path, out: Path, repo: Path) -> list[str]:
    rel = str(app.relative_to(project))
    common = ["--root", str(project), "--format", "json"]
    if command == "validate":
        return ["validate", *common, rel]
    if command == "render":
        return ["render", *common, "--app", rel, "--all-envs", "--out", str(out)]
    return [
        "publish",
        *common,
        "--env-repo",
        str(repo),
        "--app",
        rel,
        "--all-envs",
    ]  # a local publish: the app is named after its folder, as validate and render name it


class _Hang(Exception):
    pass


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: FrameType | None) -> None:
        raise _Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run(command: str, project: Path, app: Path, out: Path, repo: Path) -> tuple[int, dict[str, object]]:
    """One command in process, from inside the project; its exit code and its JSON report.

    An exception that escapes the CLI is a bug: it comes back as exit 1 with the end of its traceback
    (not raised: a RecursionError's traceback is too deep for pytest to print)."""
    result = CliRunner().invoke(main, _args(command, project, app, out, repo), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        lines = traceback.format_exception(*result.exc_info, limit=-6)
        return 1, {"traceback": "".join(lines)}
    assert "Traceback" not in result.stderr, result.stderr
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, dict):  # not the JSON report of an error: keep what it printed
        report = {"output": result.stdout + result.stderr}
    return result.exit_code, report


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    """Every entry under `path`, links not followed: relative name → (mode, size)."""
    out = {}
    for base, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(base, name))
            out[os.path.relpath(os.path.join(base, name), path)] = (st.st_mode, st.st_size)
    return out


def _want(expected: dict[str, object], command: str) -> tuple[object, object]:
    own = expected.get(command)
    section = own if isinstance(own, dict) else expected
    return section["exit"], section["problems"]


@pytest.fixture(scope="session")
def platform_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the platform inputs per worker; each case puts its app under apps/ and takes it away."""
    root = tmp_path_factory.mktemp("hostile") / "project"
    for name in ("environments", "platform-config", "policies"):
        shutil.copytree(ROOT / name, root / name)
    return root


@pytest.fixture
def fast_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """The platform is trusted and the same for every case: it is loaded once per worker, not 400 times."""
    load = platform_config.load_platform

    def cached(root: str) -> Platform:
        if root not in _PLATFORMS:
            _PLATFORMS[root] = load(root)
        return _PLATFORMS[root]

    monkeypatch.setattr(platform_config, "load_platform", cached)


_PLATFORMS: dict[str, Platform] = {}


@pytest.fixture
def apps(platform_root: Path) -> Iterator[Path]:
    folder = platform_root / "apps"
    shutil.rmtree(folder, ignore_errors=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.usefixtures("fast_platform")
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", _cases())
def test_hostile_input_is_refused_and_nothing_is_written(
    case: str,
    command: str,
    platform_root: Path,
    apps: Path,
    bare_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = _expected(case)
    code, problems = _want(expected, command)
    project = platform_root
    app = _build(case, project)
    out, scratch = tmp_path / "out", tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("RENDERER_JOBS", "1")
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before, case_before = _tree(project), _tree(CASES / case)
    with _deadline(SECONDS_PER_RUN):
        exit_code, report = _run(command, project, app, out, bare_repo)
    assert (exit_code, report.get("problems")) == (code, problems), _as_expected(exit_code, report)
    assert report.get("ok") is False
    assert not out.exists() or not any(out.iterdir()), "render wrote into --out"
    assert git("--git-dir", str(bare_repo), "for-each-ref") == "", "publish left a ref"
    assert _tree(project) == before, "something under the project changed"
    assert not any(scratch.iterdir()), "something was left in the temporary directory"
    assert _tree(CASES / case) == case_before


def _as_expected(exit_code: int, report: dict[str, object]) -> str:
    return "\nactual:\n" + yaml.safe_dump(
        {"exit": exit_code, "problems": report.get("problems", report)}, sort_keys=False, width=200
    )


def test_every_generator_has_its_case() -> None:
    assert sorted(set(GENERATORS) - set(_cases())) == []


def test_corpus_is_large_enough() -> None:
    assert len(_cases()) >= 80


# ---- recording: what today's renderer reports, for a new case's expected.yaml ------------------


def record(case: str) -> dict[str, object]:
    """Run the three commands on a case in a scratch project; the expected.yaml they agree with."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        project = base / "project"
        for name in ("environments", "platform-config", "policies"):
            shutil.copytree(ROOT / name, project / name)
        app = _build(case, project)
        results = {}
        os.chdir(project)
        for command in COMMANDS:
            repo = base / f"{command}.git"
            init_bare(repo)
            try:
                code, report = _run(command, project, app, base / f"{command}-out", repo)
            except Exception as exc:  # a bug: recorded so that the expectation can be written by hand
                code, report = 1, {"problems": f"TRACEBACK {type(exc).__name__}: {exc}"}
            found = report.get("problems", report)
            if isinstance(found, list):
                found = [
                    {k: p[k] for k in ("kind", "file", "line", "path", "message", "hint")} for p in found
                ]
            results[command] = {"exit": code, "problems": found}
    old = _expected(case)
    data: dict[str, object] = {k: old[k] for k in ("about", "app") if k in old}
    data.update(results["validate"])
    for command in ("render", "publish"):
        if results[command] != results["validate"]:
            data[command] = results[command]
    return data


if __name__ == "__main__":
    os.environ["RENDERER_JOBS"] = "1"
    for name in [a for a in sys.argv[1:] if a != "--write"]:
        text = yaml.safe_dump(record(name), sort_keys=False, width=200, allow_unicode=False)
        if "--write" in sys.argv:
            (CASES / name / EXPECTED).write_text(text, encoding="utf-8")
        print(f"# {name}\n{text}")
