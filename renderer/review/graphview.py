"""The resource graph as Mermaid, DOT or JSON, in the graph's deterministic order."""

from __future__ import annotations

import json

from renderer.resolve.graph import Graph


def render(graph: Graph, fmt: str) -> str:
    nodes = [graph.nodes[uid] for uid in graph.order]
    ids = {n.uid: f"n{i}" for i, n in enumerate(nodes)}
    users = sorted((f"{a}/{w}", name, uid) for (a, w), b in graph.bindings.items() for name, uid in b.items())
    if fmt == "json":
        return (
            json.dumps(
                {
                    "env": graph.env.id,
                    "order": list(graph.order),
                    "nodes": [
                        {
                            "uid": n.uid,
                            "definition": n.definition.id,
                            "deps": dict(sorted(n.deps.items())),
                        }
                        for n in nodes
                    ],
                    "workloads": [{"workload": w, "resource": r, "uid": u} for w, r, u in users],
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
    workloads = sorted({w for w, _, _ in users})
    wids = {w: f"w{i}" for i, w in enumerate(workloads)}
    if fmt == "dot":
        lines = [f'digraph "{graph.env.id}" {{', "  rankdir=LR;"]
        lines += [f'  {wids[w]} [label="{w}", shape=box];' for w in workloads]
        lines += [f'  {ids[n.uid]} [label="{n.uid}\\n{n.definition.id}"];' for n in nodes]
        lines += [f'  {wids[w]} -> {ids[u]} [label="{r}"];' for w, r, u in users]
        lines += [
            f'  {ids[n.uid]} -> {ids[d]} [label="{a}"];' for n in nodes for a, d in sorted(n.deps.items())
        ]
        return "\n".join([*lines, "}"]) + "\n"
    lines = ["flowchart LR"]
    lines += [f'  {wids[w]}["{w}"]' for w in workloads]
    lines += [f'  {ids[n.uid]}(["{n.uid}<br/>{n.definition.id}"])' for n in nodes]
    lines += [f"  {wids[w]} -->|{r}| {ids[u]}" for w, r, u in users]
    lines += [f"  {ids[n.uid]} -->|{a}| {ids[d]}" for n in nodes for a, d in sorted(n.deps.items())]
    return "\n".join(lines) + "\n"
