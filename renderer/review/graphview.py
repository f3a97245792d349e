"""The resource graph as Mermaid (capped to what GitLab and mermaid.js draw), Markdown, DOT or JSON.

A picture is tried at three levels, the first that fits wins: every resource (with the workloads
that use them), one node per resource definition with one per app, then one per definition alone.
Past that a sentence says how big the graph is and where the full one is. Output is a function of
the graph: nodes in the graph's order, edges sorted, identifiers numbered in that order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from urllib.parse import quote

from renderer.resolve.graph import Graph, Node
from renderer.review.labels import dot_text, js_length, markdown_text, mermaid_text

LIMIT = 5_000  # GitLab shows a longer Mermaid source only after the reader clicks
MERMAID_MAX_TEXT = 50_000  # mermaid.js refuses a longer source (its `maxTextSize` default)
MERMAID_MAX_EDGES = 500  # and a diagram with more edges (its `maxEdges` default)
# Apps drawn beside definitions only while their edges stay few enough to follow: past this the
# picture is a hairball (measured in the browser test's screenshots), and definitions alone read better.
APP_EDGES = 80

Use = tuple[str, str, str]  # (app/workload, resource name, node uid)
Edge = tuple[str, str, str]  # (from id, label, to id); label "" for none


@dataclass(frozen=True, slots=True)
class Part:
    """The part of a graph to draw: resources by uid and workloads as `app/workload`."""

    nodes: tuple[Node, ...]  # in the graph's order
    workloads: tuple[str, ...]  # sorted
    uses: tuple[Use, ...]  # workload → resource, both in the part
    focus: frozenset[str]  # what was asked for (uids and workloads): drawn highlighted


@dataclass(frozen=True, slots=True)
class Picture:
    level: str  # "resources", "definitions and apps" or "definitions"
    source: str  # Mermaid, within the limit


def part(graph: Graph, only: Collection[str] | None = None) -> Part:
    """`only` (resource uids and `app/workload` names) with their neighbours, or the whole graph.

    Neighbours: the resources a focused resource uses and those that use it, the workloads bound
    to it, and the resources a focused workload uses. Names not in this graph are ignored (an
    impact may name what exists on one side only).
    """
    uses = sorted((f"{a}/{w}", name, uid) for (a, w), b in graph.bindings.items() for name, uid in b.items())
    if only is None:
        keep_nodes, keep_workloads, focus = set(graph.nodes), {w for w, _, _ in uses}, frozenset[str]()
    else:
        focus = frozenset(only)
        keep_nodes = {uid for uid in focus if uid in graph.nodes}
        keep_workloads = {w for w, _, _ in uses if w in focus}
        users: dict[str, set[str]] = {}
        for node in graph.nodes.values():
            for dep in node.deps.values():
                users.setdefault(dep, set()).add(node.uid)
        for uid in list(keep_nodes):
            keep_nodes.update(graph.nodes[uid].deps.values(), users.get(uid, ()))
        keep_workloads.update(w for w, _, u in uses if u in focus)
        keep_nodes.update(u for w, _, u in uses if w in focus)
    return Part(
        nodes=tuple(graph.nodes[uid] for uid in graph.order if uid in keep_nodes),
        workloads=tuple(sorted(keep_workloads)),
        uses=tuple(u for u in uses if u[0] in keep_workloads and u[2] in keep_nodes),
        focus=focus,
    )


def picture(graph: Graph, *, only: Collection[str] | None = None, limit: int = LIMIT) -> Picture | None:
    """The most detailed Mermaid source of the part that is at most `limit` long, or None."""
    chosen = part(graph, only)
    for level, draw, max_edges in LEVELS:
        source = draw(chosen)
        if js_length(source) <= limit and source.count("-->") <= max_edges:
            return Picture(level, source)
    return None


def mermaid(
    graph: Graph, *, only: Collection[str] | None = None, limit: int = LIMIT, artifact: str | None = None
) -> str:
    """Markdown for a note: a ```mermaid block, collapsed past `limit`, or a sentence and a link."""
    chosen = part(graph, only)
    if not chosen.nodes and not chosen.workloads:
        return (
            "The resource graph is empty.\n" if only is None else "No resource of this graph is affected.\n"
        )
    drawn = picture(graph, only=only, limit=limit)
    where = _where(artifact)
    if drawn is None:
        return f"{_size(chosen)}: too large to draw here{where}.\n"
    block = f"```mermaid\n{drawn.source}```\n"
    if drawn.level == "resources":
        return block
    return f"One node per resource definition: {_size(chosen)} do not fit in one diagram{where}.\n\n{block}"


def _size(chosen: Part) -> str:
    definitions = len({n.definition.id for n in chosen.nodes})
    edges = len(chosen.uses) + sum(len(n.deps) for n in chosen.nodes)
    return (
        f"{len(chosen.nodes):,} resources from {definitions:,} definitions, "
        f"{len(chosen.workloads):,} workloads and {edges:,} edges"
    )


def _where(artifact: str | None) -> str:
    if artifact is None:
        return "; `renderer graph --full` prints the whole graph"
    target = quote(artifact, safe=":/?#[]@!$&'*+,;=%~")
    return f"; the full graph: [{markdown_text(artifact.rsplit('/', 1)[-1]) or 'artifact'}]({target})"


def render(
    graph: Graph,
    fmt: str,
    *,
    limit: int = LIMIT,
    only: Collection[str] | None = None,
    artifact: str | None = None,
) -> str:
    """What `renderer graph` prints; `limit=0` draws every resource whatever its size."""
    chosen = part(graph, only)
    if fmt == "json":
        return _json(graph, chosen)
    if fmt == "dot":
        return _dot(graph, chosen)
    if fmt == "markdown":
        return mermaid(graph, only=only, limit=limit or MERMAID_MAX_TEXT, artifact=artifact)
    if limit == 0:
        return _resources(chosen)
    drawn = picture(graph, only=only, limit=limit)
    if drawn is not None:
        return drawn.source
    return _flowchart([("s0", f'["{mermaid_text(_size(chosen) + ": too large to draw")}"]')], [], [])


# ---- Mermaid, one function per level -------------------------------------------------------------


def _resources(chosen: Part) -> str:
    ids = {n.uid: f"n{i}" for i, n in enumerate(chosen.nodes)}
    wids = {w: f"w{i}" for i, w in enumerate(chosen.workloads)}
    nodes = [(wids[w], f'["{mermaid_text(w)}"]') for w in chosen.workloads]
    nodes += [
        (ids[n.uid], f'(["{mermaid_text(n.uid)}<br/>{mermaid_text(n.definition.id)}"])') for n in chosen.nodes
    ]
    edges = [(wids[w], r, ids[u]) for w, r, u in chosen.uses]
    edges += [(ids[n.uid], a, ids[d]) for n in chosen.nodes for a, d in sorted(n.deps.items()) if d in ids]
    focus = [ids[u] for u in ids if u in chosen.focus] + [wids[w] for w in wids if w in chosen.focus]
    return _flowchart(nodes, edges, focus)


def _definitions(chosen: Part, with_apps: bool) -> str:
    of = {n.uid: n.definition.id for n in chosen.nodes}
    counts: dict[str, int] = {}
    for definition in of.values():
        counts[definition] = counts.get(definition, 0) + 1
    ids = {d: f"d{i}" for i, d in enumerate(counts)}
    nodes = [(ids[d], f'(["{mermaid_text(d)}<br/>{_count(c, "resource")}"])') for d, c in counts.items()]
    pairs = {(ids[of[n.uid]], ids[of[d]]) for n in chosen.nodes for d in n.deps.values() if d in of}
    if with_apps:
        apps = sorted({w.split("/", 1)[0] for w in chosen.workloads})
        aids = {a: f"a{i}" for i, a in enumerate(apps)}
        nodes = [(aids[a], f'["{mermaid_text(a)}"]') for a in apps] + nodes
        pairs |= {(aids[w.split("/", 1)[0]], ids[of[u]]) for w, _, u in chosen.uses}
    focus = sorted({ids[of[u]] for u in chosen.focus if u in of}, key=lambda i: int(i[1:]))
    return _flowchart(nodes, [(a, "", b) for a, b in sorted(pairs, key=_numbered)], focus)


def _edge_text(label: str) -> str:
    """A resource name, or `uses:<alias>` (the graph's own prefix, kept as it reads)."""
    prefix, colon, alias = label.partition(":")
    if prefix == "uses" and colon:
        # safe unencoded: the line holds no `style`/`classDef` before this colon (see labels.py)
        return "uses:" + mermaid_text(alias)
    return mermaid_text(label)


def _numbered(pair: tuple[str, str]) -> tuple[str, int, str, int]:
    return (pair[0][0], int(pair[0][1:]), pair[1][0], int(pair[1][1:]))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _flowchart(nodes: Iterable[tuple[str, str]], edges: Iterable[Edge], focus: list[str]) -> str:
    lines = ["flowchart LR"]
    lines += [f"  {i}{shape}" for i, shape in nodes]
    lines += [f"  {a} -->|{_edge_text(label)}| {b}" if label else f"  {a} --> {b}" for a, label, b in edges]
    if focus:
        lines += ["  classDef focus stroke-width:4px", f"  class {','.join(focus)} focus"]
    return "\n".join(lines) + "\n"


LEVELS: tuple[tuple[str, Callable[[Part], str], int], ...] = (
    ("resources", _resources, MERMAID_MAX_EDGES),
    ("definitions and apps", lambda p: _definitions(p, with_apps=True), APP_EDGES),
    ("definitions", lambda p: _definitions(p, with_apps=False), MERMAID_MAX_EDGES),
)


# ---- DOT and JSON: the whole part, uncapped -------------------------------------------------------


def _dot(graph: Graph, chosen: Part) -> str:
    ids = {n.uid: f"n{i}" for i, n in enumerate(chosen.nodes)}
    wids = {w: f"w{i}" for i, w in enumerate(chosen.workloads)}
    lines = [f'digraph "{dot_text(graph.env.id)}" {{', "  rankdir=LR;"]
    lines += [f'  {wids[w]} [label="{dot_text(w)}", shape=box];' for w in chosen.workloads]
    lines += [
        f'  {ids[n.uid]} [label="{dot_text(n.uid)}\\n{dot_text(n.definition.id)}"];' for n in chosen.nodes
    ]
    edges = [(wids[w], r, ids[u]) for w, r, u in chosen.uses]
    edges += [(ids[n.uid], a, ids[d]) for n in chosen.nodes for a, d in sorted(n.deps.items()) if d in ids]
    lines += [f'  {a} -> {b} [label="{dot_text(label)}"];' for a, label, b in edges]
    return "\n".join([*lines, "}"]) + "\n"


def _json(graph: Graph, chosen: Part) -> str:
    data = {
        "env": graph.env.id,
        "order": [n.uid for n in chosen.nodes],
        "nodes": [
            {"uid": n.uid, "definition": n.definition.id, "deps": dict(sorted(n.deps.items()))}
            for n in chosen.nodes
        ],
        "workloads": [{"workload": w, "resource": r, "uid": u} for w, r, u in chosen.uses],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
