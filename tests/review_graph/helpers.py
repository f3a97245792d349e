"""Resource graphs for the picture tests: the shipped examples' prod graph, grown or renamed."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from functools import cache

from renderer import pipeline
from renderer.inputs import roots
from renderer.resolve.graph import Graph, Node
from tests.conftest import ROOT


@cache
def example_graph() -> Graph:
    inputs = roots.load(str(ROOT), [])
    return pipeline.analyse_env(inputs.platform, inputs.apps, "prod").graph


def renamed(
    graph: Graph, name: Callable[[str], str], definition: Callable[[str], str] | None = None
) -> Graph:
    """The same graph with every app, uid, resource name (and definition id) passed through `name`."""
    nodes: dict[str, Node] = {}
    for uid, node in graph.nodes.items():
        match = node.match
        if definition is not None:
            match = dataclasses.replace(
                match, definition=dataclasses.replace(node.definition, id=definition(node.definition.id))
            )
        nodes[name(uid)] = dataclasses.replace(
            node, uid=name(uid), match=match, deps={name(a): name(d) for a, d in node.deps.items()}
        )
    bindings = {
        (name(app), name(wl)): {name(r): name(u) for r, u in bound.items()}
        for (app, wl), bound in graph.bindings.items()
    }
    return Graph(graph.env, nodes, tuple(name(u) for u in graph.order), bindings)


@cache
def scaled(copies: int, *, own_definitions: bool = False) -> Graph:
    """`copies` disjoint copies of the example graph (and of its definitions, if asked)."""
    base = example_graph()
    nodes: dict[str, Node] = {}
    order: list[str] = []
    bindings: dict[tuple[str, str], dict[str, str]] = {}
    for k in range(copies):
        copy = renamed(
            base, lambda s, k=k: f"{s}-c{k}", (lambda d, k=k: f"{d}-c{k}") if own_definitions else None
        )
        nodes.update(copy.nodes)
        order.extend(copy.order)
        bindings.update({key: dict(b) for key, b in copy.bindings.items()})
    return Graph(base.env, nodes, tuple(order), bindings)


NODE = re.compile(r'  (?P<id>[wnads]\d+)(?:\["(?P<box>[^"]*)"\]|\(\["(?P<round>[^"]*)"\]\))')
EDGE = re.compile(r"  (?P<src>[wnad]\d+) -->(?:\|(?P<label>[^|]*)\|)? (?P<dst>[nd]\d+)")
FOCUS = re.compile(r"  classDef focus stroke-width:4px|  class (?P<ids>[wnd]\d+(?:,[wnd]\d+)*) focus")


def parse(source: str) -> tuple[dict[str, str], list[tuple[str, str, str]], list[str]]:
    """Mermaid as this project writes it: {id: label}, [(from, label, to)], focused ids.

    Every line must be one of the three forms: anything else is an injection or a bug."""
    first, *lines = source.splitlines()
    assert first == "flowchart LR", first
    assert source.endswith("\n") and not source.endswith("\n\n")
    labels: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    focus: list[str] = []
    for line in lines:
        if m := NODE.fullmatch(line):
            labels[m["id"]] = m["box"] if m["box"] is not None else m["round"]
        elif m := EDGE.fullmatch(line):
            edges.append((m["src"], m["label"] or "", m["dst"]))
        elif m := FOCUS.fullmatch(line):
            focus += m["ids"].split(",") if m["ids"] else []
        else:
            raise AssertionError(f"not a node, an edge or the focus style: {line!r}")
    return labels, edges, focus


def decoded(label: str) -> str:
    """A label as mermaid.js shows it: `#<n>;` back to its character, `<br/>` (between fields) a
    line break; `<br>` (a long name wrapped) joins its lines back."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m[1])), label.replace("<br/>", "\n").replace("<br>", ""))
