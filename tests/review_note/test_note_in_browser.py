"""MR notes as reviewers see them: GitLab-flavoured Markdown drawn in headless Chromium.

markdown-it turns each note into HTML (CommonMark plus GFM tables, raw `<details>` kept, as
GitLab's renderer does), mermaid.js (pinned in js/package-lock.json) draws every ```mermaid block
with GitLab's settings, and the page is measured at 1280 px. One browser draws every page
(`js/harness.cjs`); each test reads its page's measurements. Screenshots go to the pytest temp dir.

Needs node, Debian's chromium and `npm ci` of js/ (`.ci/run` does all three). Without them the
tests skip and say what is missing; with RENDERER_NOTE_BROWSER=required (set by `.ci/run`) they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from renderer.cli import main
from renderer.resolve.graph import Graph
from renderer.review import graphview
from tests.conftest import ROOT
from tests.review_graph.helpers import example_graph, renamed, scaled
from tests.review_graph.test_graphview import HOSTILE, _hidden_replaced

HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "samples"
WIDTH, HEIGHT = 1280, 900
MIN_FONT_PX = 12
Page = dict[str, Any]
# One browser per test process: with `pytest -n` and `--dist loadgroup` (.ci/run) all on one worker.
pytestmark = pytest.mark.xdist_group("note-browser")


def _tools() -> tuple[str, str, Path]:
    """node, chromium and the npm folder, or skip (fail where the CI says they must be there)."""
    node = shutil.which("node")
    chromium = os.environ.get("RENDERER_CHROMIUM") or shutil.which("chromium")
    modules = Path(os.environ.get("RENDERER_NOTE_JS", ROOT / ".venv" / "note-js")) / "node_modules"
    missing = [
        name
        for name, found in (("node", node), ("chromium (apt-get install chromium)", chromium))
        if not found
    ]
    packages = [
        p
        for p in ("markdown-it", "mermaid", "playwright-core")
        if not (modules / p / "package.json").is_file()
    ]
    if packages:
        missing.append(f"{', '.join(packages)} in {modules} (npm ci: see .ci/run)")
    if missing:
        reason = "MR-note browser test needs " + ", ".join(missing)
        if os.environ.get("RENDERER_NOTE_BROWSER") == "required":
            pytest.fail(reason)
        pytest.skip(reason)
    assert node and chromium
    return node, chromium, modules


def _cli(*args: str) -> str:
    result = CliRunner().invoke(
        main, ["graph", "--root", str(ROOT), "--env", "prod", *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def _note(title: str, rows: list[tuple[str, str, int]], sections: list[tuple[str, str]]) -> str:
    """A note shaped as the review notes are: a heading, the summary table, a section per scope."""
    lines = [f"### {title}", "", "| environment | app | objects changed |", "|---|---|---:|"]
    lines += [f"| {env} | {app} | {count} |" for env, app, count in rows]
    for summary, body in sections:
        lines += ["", f"<details><summary>{summary}</summary>", "", body, "</details>"]
    return "\n".join(lines) + "\n"


def _large_diff(i: int) -> str:
    body = [
        f"--- a/kubernetes/prod/app{i}/deployment-web.yaml",
        f"+++ b/kubernetes/prod/app{i}/deployment-web.yaml",
    ]
    body += [f"-  replicas: {k}\n+  replicas: {k + 1}" for k in range(8)]
    body.append("+  annotation: " + "x" * 600)  # a line far wider than the page
    return "```diff\n" + "\n".join(body) + "\n```\n"


def _hostile() -> Graph:
    """The examples with a hostile string after every name: each string ends some resource's uid."""
    graph = example_graph()
    suffix = {uid: HOSTILE[i % len(HOSTILE)] for i, uid in enumerate(sorted(graph.nodes))}

    def name(s: str) -> str:
        return s + suffix.get(s, HOSTILE[zlib.crc32(s.encode()) % len(HOSTILE)])

    return renamed(graph, name, name)


def _pages() -> dict[str, str]:
    graph = example_graph()
    pages = {
        "graph-examples": _note(
            "Resource graph", [("prod", "shop", 3)], [("graph", _cli("--format", "markdown"))]
        ),
        "graph-cli-capped": _note(
            "Resource graph",
            [("prod", "shop", 3)],
            [
                (
                    "graph",
                    _cli(
                        "--format",
                        "markdown",
                        "--limit",
                        "1000",
                        "--artifact",
                        "https://ci.invalid/graph.mmd",
                    ),
                )
            ],
        ),
        "graph-definitions": _note(
            "Impact", [("prod", "many", 13)], [("graph", graphview.mermaid(scaled(13)))]
        ),
        "graph-sentence": _note(
            "Impact",
            [("prod", "many", 400)],
            [("graph", graphview.mermaid(scaled(400, own_definitions=True)))],
        ),
        "graph-subset": _note(
            "Impact",
            [("prod", "billing", 1)],
            [("graph", graphview.mermaid(graph, only={"postgres-instance.default#shared"}))],
        ),
        "hostile": _note(
            "Hostile names",
            [("prod", "x", 1)],
            [
                ("every resource", graphview.mermaid(_hostile(), limit=graphview.MERMAID_MAX_TEXT)),
                ("per definition", graphview.mermaid(_hostile(), limit=1_000)),
            ],
        ),
        "large-note": _note(
            "Rendered changes",
            [("prod", f"app{i}", i) for i in range(40)],
            [("graph", graphview.mermaid(scaled(2)))]
            + [(f"prod / app{i}", _large_diff(i)) for i in range(40)],
        ),
    }
    pages.update({f"sample-{p.stem}": p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.md"))})
    return pages


PAGES = _pages()


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Page]]:
    node, chromium, modules = _tools()
    out = tmp_path_factory.mktemp("note-screenshots")
    job = {
        "chromium": chromium,
        "mermaid": str(modules / "mermaid" / "dist" / "mermaid.min.js"),
        "out": str(out),
        "width": WIDTH,
        "height": HEIGHT,
        "pages": [{"name": name, "markdown": text} for name, text in PAGES.items()],
    }
    (out / "job.json").write_text(json.dumps(job), encoding="utf-8")
    proc = subprocess.run(
        [node, str(HERE / "js" / "harness.cjs"), str(out / "job.json")],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NODE_PATH": str(modules)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results: dict[str, Page] = json.loads(proc.stdout)
    yield results.__getitem__


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_diagram_draws(drawn: Callable[[str], Page], name: str) -> None:
    page = drawn(name)
    fences = PAGES[name].count("```mermaid\n")
    assert len(page["diagrams"]) == fences
    for diagram in page["diagrams"]:
        assert diagram["error"] is None and diagram["svg"], diagram
        assert diagram["injected"] == 0, "no element from a label: only mermaid's own"
    assert not page["syntaxErrorText"] and page["pageErrors"] == []


@pytest.mark.parametrize("name", sorted(PAGES))
def test_note_stays_readable(drawn: Callable[[str], Page], name: str) -> None:
    page = drawn(name)
    for shot in ("firstScreen", "screenshot"):
        assert Path(page[shot]).stat().st_size > 10_000, "a screenshot of the note"
    assert page["scrollWidth"] <= WIDTH and page["overflowing"] == [], "nothing wider than the page"
    assert page["minFontPx"] >= MIN_FONT_PX
    for diagram in page["diagrams"]:
        assert diagram["minFontPx"] >= MIN_FONT_PX, f"labels drawn at {diagram['minFontPx']:.1f}px"
    if PAGES[name].lstrip().startswith("###"):
        assert page["summaryShows"], "the summary table is on the first screen, before anything is opened"


def test_capped_pictures_say_so(drawn: Callable[[str], Page]) -> None:
    """The sentence stands where the picture would be, with its link; nothing is drawn there."""
    assert drawn("graph-sentence")["diagrams"] == []
    assert "too large to draw here" in PAGES["graph-sentence"]
    assert "[graph.mmd](https://ci.invalid/graph.mmd)" in PAGES["graph-cli-capped"]
    texts = " ".join(d["text"] for d in drawn("graph-definitions")["diagrams"])
    assert "postgres-rds-database" in texts and "26 resources" in texts


def test_hostile_names_show_as_text(drawn: Callable[[str], Page]) -> None:
    """Each hostile string is on screen as written (invisible controls as one mark)."""
    text = re.sub(r"\s", "", drawn("hostile")["diagrams"][0]["text"])
    for hostile in HOSTILE:
        assert re.sub(r"\s", "", _hidden_replaced(hostile)) in text, hostile
