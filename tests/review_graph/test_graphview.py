"""The resource graph's picture: capped at every size, a subset with its neighbours, labels as data."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from click.testing import Result
from hypothesis import example, given, settings
from hypothesis import strategies as st

from renderer.review import graphview
from renderer.review.labels import MAX_LABEL, REPLACEMENT, dot_text, js_length, mermaid_text
from tests.conftest import ROOT
from tests.review_graph.helpers import decoded, example_graph, parse, renamed, scaled

SIZES = [1, 2, 3, 5, 8, 13, 21, 55, 144, 400]
LIMITS = [1_000, graphview.LIMIT, graphview.MERMAID_MAX_TEXT]


def _fenced(markdown: str) -> str | None:
    m = re.search(r"```mermaid\n(.*?)```\n", markdown, re.DOTALL)
    return m[1] if m else None


@pytest.mark.parametrize("own_definitions", [False, True])
@pytest.mark.parametrize("copies", SIZES)
def test_every_picture_fits_the_cap(copies: int, own_definitions: bool) -> None:
    """Whatever the size, the Mermaid printed and the one in the note is within the limit and the
    edge cap, and it is the most detailed level that fits."""
    graph = scaled(copies, own_definitions=own_definitions)
    full = graphview.render(graph, "mermaid", limit=0)
    for limit in LIMITS:
        source = graphview.render(graph, "mermaid", limit=limit)
        assert js_length(source) <= limit
        assert len(parse(source)[1]) <= graphview.MERMAID_MAX_EDGES
        note = graphview.mermaid(graph, limit=limit, artifact="graph.mmd")
        drawn = graphview.picture(graph, limit=limit)
        if drawn is None:
            assert _fenced(note) is None and "too large to draw here" in note, note
            assert "[graph.mmd](graph.mmd)" in note
            continue
        assert _fenced(note) == drawn.source == source
        if js_length(full) <= limit and full.count("-->") <= graphview.MERMAID_MAX_EDGES:
            assert (drawn.level, source) == ("resources", full), "every resource, when it fits"
        else:
            assert drawn.level != "resources" and note.startswith("One node per resource definition: ")


def test_levels_by_size() -> None:
    """The examples fit whole; 3 copies collapse to definitions with apps, 55 (too many app edges to
    follow) to definitions alone;
    400 copies of distinct definitions leave a sentence."""
    assert graphview.render(example_graph(), "mermaid") == graphview.render(
        example_graph(), "mermaid", limit=0
    )
    levels = {n: graphview.picture(scaled(n)) for n in (1, 3, 55)}
    assert [p.level if p else None for p in levels.values()] == [
        "resources",
        "definitions and apps",
        "definitions",
    ]
    assert graphview.picture(scaled(400, own_definitions=True)) is None
    sentence = graphview.mermaid(scaled(400, own_definitions=True))
    assert sentence == (
        "9,200 resources from 6,800 definitions, 2,000 workloads and 10,400 edges: too large to draw here; "
        "`renderer graph --full` prints the whole graph.\n"
    )


def test_collapsed_picture_is_the_graph_per_definition() -> None:
    graph = scaled(4)
    drawn = graphview.picture(graph)
    assert drawn is not None and drawn.level == "definitions and apps"
    labels, edges, _ = parse(drawn.source)
    counts: dict[str, int] = {}
    for node in graph.nodes.values():
        counts[node.definition.id] = counts.get(node.definition.id, 0) + 1
    shown = {
        decoded(v).split("\n")[0]: (k, decoded(v).split("\n")[1]) for k, v in labels.items() if k[0] == "d"
    }
    assert {d: n for d, (_, n) in shown.items()} == {
        d: f"{c} resource" + ("s" * (c != 1)) for d, c in counts.items()
    }
    apps = {decoded(v): k for k, v in labels.items() if k[0] == "a"}
    assert set(apps) == {app for app, _ in graph.bindings}
    ident = {d: k for d, (k, _) in shown.items()}
    wanted = {
        (ident[n.definition.id], ident[graph.nodes[d].definition.id])
        for n in graph.nodes.values()
        for d in n.deps.values()
    }
    wanted |= {
        (apps[app], ident[graph.nodes[u].definition.id])
        for (app, _), b in graph.bindings.items()
        for u in b.values()
    }
    assert sorted((a, b) for a, _, b in edges) == sorted(wanted), "each edge once, none missing"
    assert all(label == "" for _, label, _ in edges)


def test_subset_is_the_focus_and_its_neighbours() -> None:
    graph = example_graph()
    shared = "postgres-instance.default#shared"
    labels, edges, focus = parse(graphview.render(graph, "mermaid", only={shared}))
    names = {k: decoded(v).split("\n")[0] for k, v in labels.items()}
    assert sorted(names.values()) == [
        shared,
        "postgres.default#billing.ledger.reports",
        "postgres.default#shop.api.db",
    ], "the instance and the two databases on it; no workload binds the instance itself"
    assert sorted((names[a], lab, names[b]) for a, lab, b in edges) == [
        ("postgres.default#billing.ledger.reports", "uses:instance", shared),
        ("postgres.default#shop.api.db", "uses:instance", shared),
    ]
    assert [names[f] for f in focus] == [shared]


def test_subset_of_a_workload_and_a_resource_it_uses() -> None:
    graph = example_graph()
    only = {"shop/web", "route.default#shop.api.route"}
    labels, edges, focus = parse(graphview.render(graph, "mermaid", only=only))
    names = {k: decoded(v).split("\n")[0] for k, v in labels.items()}
    web = {u for u in graph.bindings[("shop", "web")].values()}
    route = {"route.default#shop.api.route", "dns.default#shop.api.dns", "shop/api"}
    assert set(names.values()) == {"shop/web"} | web | route | {"dns.default#shop.web.dns"}
    assert sorted(names[f] for f in focus) == sorted(only)
    assert ("shop/api", "route", "route.default#shop.api.route") in {
        (names[a], lab, names[b]) for a, lab, b in edges
    }
    assert ("shop/api", "db", "postgres.default#shop.api.db") not in {
        (names[a], lab, names[b]) for a, lab, b in edges
    }


def test_subset_names_outside_the_graph() -> None:
    graph = example_graph()
    assert graphview.mermaid(graph, only={"gone.default#x"}) == "No resource of this graph is affected.\n"
    assert graphview.render(graph, "json", only=set()).count('"uid"') == 0


def test_same_graph_in_another_dict_order_draws_the_same_bytes() -> None:
    graph = scaled(3)
    shuffled = type(graph)(
        graph.env,
        dict(reversed(list(graph.nodes.items()))),
        graph.order,
        dict(reversed(list(graph.bindings.items()))),
    )
    for fmt in ("mermaid", "markdown", "dot", "json"):
        assert graphview.render(shuffled, fmt, limit=1_000) == graphview.render(graph, fmt, limit=1_000)


# ---- hostile names ----------------------------------------------------------------------------------

HOSTILE = [
    'q"]) --> x(["',
    "a]\nclick n0 call alert(1)\n%%",
    "%%{init: {'securityLevel': 'loose'}}%%",
    "<img src=x onerror=alert(1)>",
    "```\n</details>\n# heading",
    "`**md string**`",
    "a|b -->|c| d",
    "style n0 fill:#f00;",
    "classDef x fill:#f9f;",
    "#quot; #35; #amp;",
    "end",
    "x:::focus",
    "\u202eevil\u2066\u200b",
    "line\u2028break\u0000\x1b[31m",
    "e\u0301\u0489",
    "日本語-Ελληνικά",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🙂",
]
SAFE = re.compile(r'(?:[A-Za-z0-9./_\-# ]|#\d+;|<br/?>|[^\x00-\x7f"<>`%|;:\[\](){}\\&*=~\n])*')


def _hidden_replaced(text: str) -> str:
    import unicodedata

    hidden = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Mn", "Mc", "Me"}
    text = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
    return "".join(REPLACEMENT if unicodedata.category(c) in hidden else c for c in text)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.text())
@example("#60;")
@example("a" * 500)
def test_mermaid_text_is_data(text: str) -> None:
    """Only safe characters and entities reach the parser, and they read back as the text
    (invisible and layout characters shown as one mark)."""
    out = mermaid_text(text)
    assert SAFE.fullmatch(out), out
    assert decoded(out) == _hidden_replaced(text)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.text())
def test_dot_text_is_data(text: str) -> None:
    out = dot_text(text)
    assert re.fullmatch(r'(?:[^"\\\n]|\\["\\])*', out), out
    assert re.sub(r"\\(.)", r"\1", out) == _hidden_replaced(text)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_stay_inside_their_labels(hostile: str) -> None:
    """Every app, workload, resource name and definition id carries the hostile string; the picture
    still parses line by line into the same nodes and edges, each label reading back as written."""
    graph = renamed(example_graph(), lambda s: s + hostile, lambda d: d + hostile)
    for limit in (0, 1_000):
        source = graphview.render(graph, "mermaid", limit=limit)
        assert "%%" not in source and "`" not in source
        labels, _, _ = parse(source)  # raises on any line that is not a node, an edge or our style
        assert all(SAFE.fullmatch(label) for label in labels.values())
    labels, edges, _ = parse(graphview.render(graph, "mermaid", limit=0))
    lines = {k: decoded(v).split("\n") for k, v in labels.items()}
    assert {v[0] for k, v in lines.items() if k[0] == "n"} == {_hidden_replaced(u) for u in graph.nodes}
    assert {v[1] for k, v in lines.items() if k[0] == "n"} == {
        _hidden_replaced(n.definition.id) for n in graph.nodes.values()
    }
    assert {v[0] for k, v in lines.items() if k[0] == "w"} == {
        _hidden_replaced(f"{a}/{w}") for a, w in graph.bindings
    }
    assert {decoded(lab) for _, lab, _ in edges} == {
        _hidden_replaced(r) for b in graph.bindings.values() for r in b
    } | {_hidden_replaced(a) for n in graph.nodes.values() for a in n.deps}
    dot = graphview.render(graph, "dot")
    assert len(dot.splitlines()) == 3 + len(graph.nodes) + len(graph.bindings) + len(edges)


def test_graph_command_options(cli: Callable[..., Result]) -> None:
    base = ("graph", "--root", str(ROOT), "--env", "prod")
    whole = cli(*base)
    assert whole.exit_code == 0 and whole.output == graphview.render(example_graph(), "mermaid")
    capped = cli(
        *base, "--limit", "1000", "--format", "markdown", "--artifact", "https://ci.example/a b/graph.mmd"
    )
    assert capped.exit_code == 0
    assert capped.output.startswith(
        "One node per resource definition: 23 resources from 17 definitions, 5 workloads and 26 edges do not "
        "fit in one diagram; the full graph: [graph.mmd](https://ci.example/a%20b/graph.mmd).\n\n```mermaid\n"
    )
    full = cli(*base, "--full", "--only", "shop/web")
    assert full.exit_code == 0 and full.output == graphview.render(
        example_graph(), "mermaid", only={"shop/web"}
    )
    low = cli(*base, "--limit", "10")
    assert low.exit_code == 2 and "10 is not in the range 1000<=x<=50000" in low.output
