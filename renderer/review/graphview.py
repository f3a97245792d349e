"""The resource graph as Mermaid, DOT or JSON, in the graph's deterministic order."""

from __future__ import annotations

import json

from renderer.resolve.graph import Graph, Node

Use = tuple[str, str, str]  # (app/workload, resource name, node uid)


def render(graph: Graph, fmt: str) -> str:
    nodes = [graph.nodes[uid] for uid in graph.order]
    users = sorted((f"{a}/{w}", name, uid) for (a, w), b in graph.bindings.items() for name, uid in b.items())
    if fmt == "json":
        return _json(graph, nodes, users)
    ids = {n.uid: f"n{i}" for i, n in enumerate(nodes)}
    workloads = sorted({w for w, _, _ in users})
    wids = {w: f"w{i}" for i, w in enumerate(workloads)}
    edges = [(wids[w], ids[u], r) for w, r, u in users]
    edges += [(ids[n.uid], ids[d], a) for n in nodes for a, d in sorted(n.deps.items())]
    if fmt == "dot":
        lines = [f'digraph "{graph.env.id}" {{', "  rankdir=LR;"]
        lines += [f'  {wids[w]} [label="{w}", shape=box];' for w in workloads]
        lines += [f'  {ids[n.uid]} [label="{n.uid}\\n{n.definition.id}"];' for n in nodes]
        lines += [f'  {a} -> {b} [label="{label}"];' for a, b, label in edges]
        return "\n".join([*lines, "}"]) + "\n"
    lines = ["flowchart LR"]
    lines += [f'  {wids[w]}["{w}"]' for w in workloads]
    lines += [f'  {ids[n.uid]}(["{n.uid}<br/>{n.definition.id}"])' for n in nodes]
    lines += [f"  {a} -->|{label}| {b}" for a, b, label in edges]
    return "\n".join(lines) + "\n"


def _json(graph: Graph, nodes: list[Node], users: list[Use]) -> str:
    data = {
        "env": graph.env.id,
        "order": list(graph.order),
        "nodes": [
            {"uid": n.uid, "definition": n.definition.id, "deps": dict(sorted(n.deps.items()))} for n in nodes
        ],
        "workloads": [{"workload": w, "resource": r, "uid": u} for w, r, u in users],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
