"""Why each resource of a workload matched what it matched, and what it resolved to."""

from __future__ import annotations

from typing import TypedDict

from renderer.data import Json
from renderer.errors import UsageError
from renderer.model import SecretRef
from renderer.resolve.analysis import Analysis


class ExplainedProfile(TypedDict):
    id: str
    file: str
    kind: str
    replicas: int


class ExplainedDefinition(TypedDict):
    id: str
    file: str
    driver: str


class ExplainedCandidate(TypedDict):
    definition: str
    file: str
    outcome: str
    reason: str


# `class` and `id` are keys (the resource's identity), so the functional syntax.
ExplainedResource = TypedDict(
    "ExplainedResource",
    {
        "name": str,
        "uid": str,
        "type": str,
        "class": str,
        "id": str | None,
        "shared": bool,
        "definition": ExplainedDefinition,
        "candidates": list[ExplainedCandidate],
        "outputs": dict[str, Json],  # secret outputs as their reference text
        "secret_outputs": list[str],
        "depends_on": list["ExplainedResource"],
    },
)


class Explanation(TypedDict):
    """What `renderer explain` prints (as JSON, or as text by `as_text`)."""

    env: str
    env_type: str
    app: str
    workload: str
    profile: ExplainedProfile
    resources: list[ExplainedResource]


def explain(result: Analysis, app: str, workload: str) -> Explanation:
    bound = result.graph.bindings.get((app, workload))
    if bound is None:
        known = sorted(f"{a}/{w}" for a, w in result.graph.bindings)
        raise UsageError(f"no workload {app}/{workload} (known: {', '.join(known)})")
    profile = result.profiles[(app, workload)]
    resources = []
    for name in sorted(bound):
        resources.append(_node(result, bound[name], name))
    return {
        "env": result.env.id,
        "env_type": result.env.type,
        "app": app,
        "workload": workload,
        "profile": {
            "id": profile.id,
            "file": profile.file,
            "kind": profile.workload_kind,
            "replicas": profile.replicas,
        },
        "resources": resources,
    }


def _node(result: Analysis, uid: str, name: str) -> ExplainedResource:
    r = result.resolved[uid]
    node = r.node
    return {
        "name": name,
        "uid": uid,
        "type": node.type,
        "class": node.klass,
        "id": node.id,
        "shared": node.shared,
        "definition": {
            "id": node.definition.id,
            "file": node.definition.file,
            "driver": node.definition.driver,
        },
        "candidates": [
            {"definition": c.definition, "file": c.file, "outcome": c.outcome, "reason": c.reason}
            for c in node.match.candidates
        ],
        "outputs": {
            k: (v.describe() if isinstance(v, SecretRef) else v) for k, v in sorted(r.outputs.items())
        },
        "secret_outputs": sorted(k for k, v in r.outputs.items() if isinstance(v, SecretRef)),
        "depends_on": [_node(result, dep, alias) for alias, dep in sorted(node.deps.items())],
    }


def as_text(data: Explanation) -> str:
    lines = [
        f"{data['app']}/{data['workload']} in {data['env']} ({data['env_type']})",
        f"  profile {data['profile']['id']} ({data['profile']['file']}): "
        f"{data['profile']['kind']} × {data['profile']['replicas']}",
    ]
    for res in data["resources"]:
        lines.extend(_text_node(res, "  "))
    return "\n".join(lines) + "\n"


def _text_node(res: ExplainedResource, pad: str) -> list[str]:
    d = res["definition"]
    shared = " shared" if res["shared"] else ""
    lines = [
        f"{pad}{res['name']}: {res['type']}/{res['class']}{shared} → {d['id']} [{d['driver']}] ({d['file']})"
    ]
    for c in res["candidates"]:
        lines.append(f"{pad}    {c['outcome']:9} {c['definition']}: {c['reason']}")
    for key, value in res["outputs"].items():
        lines.append(f"{pad}    output {key} = {value}")
    for dep in res["depends_on"]:
        lines.extend(_text_node(dep, pad + "    uses "))
    return lines
