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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from renderer import pipeline
from renderer.cli import main
from renderer.inputs import roots
from renderer.resolve.graph import Graph
from renderer.review import diffmarkdown, graphview, treediff
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


def _graph_pages() -> dict[str, str]:
    graph = example_graph()
    capped = ("--format", "markdown", "--limit", "1000", "--artifact", "https://ci.invalid/graph.mmd")
    return {
        "graph-examples": _note(
            "Resource graph", [("prod", "shop", 3)], [("graph", _cli("--format", "markdown"))]
        ),
        "graph-cli-capped": _note("Resource graph", [("prod", "shop", 3)], [("graph", _cli(*capped))]),
        "graph-definitions": _note(
            "Impact",
            [("prod", "many", 13)],
            [("with apps", graphview.mermaid(scaled(4))), ("alone", graphview.mermaid(scaled(13)))],
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


def _render(root: Path) -> dict[str, bytes]:
    inputs = roots.load(str(root), [])
    return pipeline.run(inputs.platform, inputs.apps, None, pipeline.Options()).tree


def _diff_pages(tmp: Path) -> dict[str, str]:
    """Real notes from `review.treediff`: production replicas 3 → 4 (every prod Deployment), and
    the whole rendered tree as new, shortened to 60,000 characters."""
    base = _render(ROOT)
    for name in ("environments", "platform-config", "policies", "examples"):
        shutil.copytree(ROOT / name, tmp / name)
    profile = tmp / "platform-config" / "profiles" / "production.yaml"
    profile.write_text(
        profile.read_text(encoding="utf-8").replace("replicas: 3", "replicas: 4"), encoding="utf-8"
    )
    head = _render(tmp)
    header = "### Rendered diff"
    return {
        "diff-replicas": diffmarkdown.markdown(
            treediff.compare(base, head), header=header, artifact="renderer-diff.txt"
        ),
        "diff-truncated": diffmarkdown.markdown(
            treediff.compare({}, head), header=header, limit=60_000, artifact="renderer-diff.txt"
        ),
    }


# Pages that must fail the checks: without them, a harness that measured nothing would pass.
CONTROLS = {
    "control-syntax-error": '### x\n\n| a |\n|---|\n| 1 |\n\n```mermaid\nflowchart LR\n  a["x""] -->\n```\n',
    "control-too-wide": '### x\n\n<div style="width: 2000px">wide</div>\n\n| a |\n|---|\n| 1 |\n',
    "control-tiny-text": '### x\n\n| a |\n|---|\n| 1 |\n\n<p style="font-size: 9px">tiny</p>\n',
    "control-summary-below": "### x\n\n" + "text\n\n" * 80 + "| a |\n|---|\n| 1 |\n",
    "control-squeezed-diagram": "### x\n\n| a |\n|---|\n| 1 |\n\n```mermaid\nflowchart LR\n"
    + "".join(f'  n{i}["node {i}"] --> n{i + 1}\n' for i in range(40))
    + "```\n",
}
SAMPLE_PAGES = {f"sample-{p.stem}": p for p in sorted(SAMPLES.glob("*.md"))}
GRAPH_PAGES = [
    "graph-examples",
    "graph-cli-capped",
    "graph-definitions",
    "graph-sentence",
    "graph-subset",
    "hostile",
    "large-note",
]
DIFF_PAGES = ["diff-replicas", "diff-truncated"]
PAGES = [*GRAPH_PAGES, *DIFF_PAGES, *SAMPLE_PAGES]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Page]:
    """Every page drawn by one browser: name → measurements, with the page's Markdown."""
    node, chromium, modules = _tools()
    out = tmp_path_factory.mktemp("note-screenshots")
    markdown = {**_graph_pages(), **_diff_pages(tmp_path_factory.mktemp("project")), **CONTROLS}
    markdown.update({name: path.read_text(encoding="utf-8") for name, path in SAMPLE_PAGES.items()})
    assert sorted(markdown) == sorted([*PAGES, *CONTROLS])
    job = {
        "chromium": chromium,
        "mermaid": str(modules / "mermaid" / "dist" / "mermaid.min.js"),
        "out": str(out),
        "width": WIDTH,
        "height": HEIGHT,
        "pages": [{"name": name, "markdown": text} for name, text in markdown.items()],
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
    for name, page in results.items():
        page["markdown"] = markdown[name]
    return results.__getitem__


def _diagrams_draw(page: Page) -> list[str]:
    """What is wrong with the page's diagrams, if anything."""
    wrong = []
    if len(page["diagrams"]) != page["markdown"].count("```mermaid\n"):
        wrong.append("a ```mermaid block was not drawn")
    for diagram in page["diagrams"]:
        if diagram["error"] is not None or not diagram["svg"]:
            wrong.append(f"syntax error: {diagram['error']}")
        if diagram["injected"]:
            wrong.append("an element came from a label")
    if page["syntaxErrorText"] or page["pageErrors"]:
        wrong.append(f"the page says Syntax error or threw: {page['pageErrors']}")
    return wrong


def _unreadable(page: Page) -> list[str]:
    """Why a reviewer could not read the page, if anything."""
    wrong = []
    if page["scrollWidth"] > WIDTH or page["overflowing"]:
        wrong.append(f"wider than the page: {page['overflowing']} ({page['scrollWidth']} px)")
    if page["minFontPx"] < MIN_FONT_PX:
        wrong.append(f"text at {page['minFontPx']} px")
    wrong += [
        f"diagram labels at {d['minFontPx']:.1f} px" for d in page["diagrams"] if d["minFontPx"] < MIN_FONT_PX
    ]
    if page["markdown"].lstrip().startswith("###") and not page["summaryShows"]:
        wrong.append("the summary table is not on the first screen")
    return wrong


@pytest.mark.parametrize("name", PAGES)
def test_every_diagram_draws(drawn: Callable[[str], Page], name: str) -> None:
    assert _diagrams_draw(drawn(name)) == []


@pytest.mark.parametrize("name", PAGES)
def test_note_stays_readable(drawn: Callable[[str], Page], name: str) -> None:
    page = drawn(name)
    for shot in ("firstScreen", "screenshot"):
        assert Path(page[shot]).stat().st_size > 5_000, "a screenshot of the note"
    assert _unreadable(page) == []


def test_the_checks_catch_what_they_are_for(drawn: Callable[[str], Page]) -> None:
    assert _diagrams_draw(drawn("control-syntax-error"))[0].startswith("syntax error: Parse error on line 2")
    assert _unreadable(drawn("control-too-wide")) == ["wider than the page: ['div'] (2140 px)"]
    assert _unreadable(drawn("control-tiny-text")) == ["text at 9 px"]
    assert _unreadable(drawn("control-summary-below")) == ["the summary table is not on the first screen"]
    (squeezed,) = _unreadable(drawn("control-squeezed-diagram"))
    assert squeezed.startswith("diagram labels at ")


def test_capped_pictures_say_so(drawn: Callable[[str], Page]) -> None:
    """The sentence stands where the picture would be, with its link; nothing is drawn there."""
    assert drawn("graph-sentence")["diagrams"] == []
    assert "too large to draw here" in drawn("graph-sentence")["markdown"]
    assert "[graph.mmd](https://ci.invalid/graph.mmd)" in drawn("graph-cli-capped")["markdown"]
    texts = " ".join(d["text"] for d in drawn("graph-definitions")["diagrams"])
    assert "postgres-rds-database" in texts and "26 resources" in texts


def test_real_diff_notes(drawn: Callable[[str], Page]) -> None:
    """The replicas change shows whole; the whole tree as new is shortened and names the artifact."""
    whole, cut = drawn("diff-replicas")["markdown"], drawn("diff-truncated")["markdown"]
    assert "replicas: 4" in whole and "renderer-diff.txt" not in whole
    assert len(cut) <= 60_000 and "renderer-diff.txt" in cut


def test_hostile_names_show_as_text(drawn: Callable[[str], Page]) -> None:
    """Each hostile string is on screen as written (invisible controls as one mark)."""
    text = re.sub(r"\s", "", drawn("hostile")["diagrams"][0]["text"])
    for hostile in HOSTILE:
        assert re.sub(r"\s", "", _hidden_replaced(hostile)) in text, hostile
