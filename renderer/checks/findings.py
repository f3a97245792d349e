"""The check stage, shared by render, publish and validate: schemas and policies before any write."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from renderer.checks import kubeschema
from renderer.checks.rego.policyset import Counts, PolicySet, Result
from renderer.errors import PolicyDenied, Problem
from renderer.model import Platform
from renderer.pipeline import EnvRender, Rendered
from renderer.render.kubernetes import ANNOTATION_SOURCE, ANNOTATION_UID

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Finding:
    env: str
    policy_set: str
    mode: str  # deny or warn: how the environment enforces the set
    result: Result
    object: str  # Kind/name, or "Score workload", or "Terraform"
    source: str  # the Score file behind it, when there is one

    def as_problem(self) -> Problem:
        rule = f"{self.policy_set}/{self.result.namespace}.{self.result.rule}"
        hint = f"from {self.source}" if self.source and self.source != self.result.path else ""
        message = f"DENY [{self.env}] {rule}: {self.result.message}"
        return Problem(self.result.path, 0, self.object, message, hint)

    def render(self) -> str:
        label = {
            "failure": "DENY" if self.mode == "deny" else "WARN",
            "warning": "WARN",
            "exception": "EXCEPTION",
        }[self.result.kind]
        where = f"{self.object} in {self.result.path}"
        if self.source and self.source != self.result.path:
            where += f" (from {self.source})"
        return (
            f"{label} [{self.env}] {self.policy_set}/{self.result.namespace}.{self.result.rule}: "
            f"{self.result.message} — {where}"
        )


@dataclass(slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    schema: kubeschema.SchemaReport = field(default_factory=kubeschema.SchemaReport)

    @property
    def denials(self) -> list[Finding]:
        return [f for f in self.findings if f.result.kind == "failure" and f.mode == "deny"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f not in self.denials and f.result.kind != "exception"]


def enforce(rendered: Rendered, platform: Platform, jobs: int = 1) -> Report:
    """Raise PolicyDenied (nothing is written) on a schema error or a denying policy."""
    report = evaluate(rendered, platform, jobs)
    problems = report.schema.problems + [f.as_problem() for f in report.denials]
    if problems:
        raise PolicyDenied(f"{len(problems)} check(s) failed; nothing was written", problems)
    return report


def warnings_after_enforce(jobs: int) -> Callable[[Rendered, Platform], list[str]]:
    """The checker publish and demo run before writing: raises on denial, returns the warnings."""

    def check(rendered: Rendered, platform: Platform) -> list[str]:
        return [f.render() for f in enforce(rendered, platform, jobs).warnings]

    return check


def evaluate(rendered: Rendered, platform: Platform, jobs: int = 1) -> Report:
    """Each environment is checked on its own (in worker processes with jobs > 1); merged in order."""
    shared = {p: d for p, d in rendered.tree.items() if p.startswith("terraform/modules/")}
    if jobs <= 1 or len(rendered.envs) <= 1:
        parts = [_evaluate_env(r, shared, platform) for r in rendered.envs]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(rendered.envs))) as pool:
            futures = [pool.submit(_evaluate_env, r, shared, platform) for r in rendered.envs]
            parts = [f.result() for f in futures]
    report = Report()
    for part in parts:
        report.findings += part.findings
        report.counts.add(part.counts)
        report.schema.checked += part.schema.checked
        report.schema.problems += part.schema.problems
        for kind, n in part.schema.unchecked.items():
            report.schema.unchecked[kind] = report.schema.unchecked.get(kind, 0) + n
    return report


def _evaluate_env(env_render: EnvRender, shared: Mapping[str, bytes], platform: Platform) -> Report:
    tree = {**env_render.tree, **shared}
    report = Report(
        schema=kubeschema.check_tree(env_render.tree, {env_render.env.id: env_render.env.kubernetes_version})
    )
    documents = list(_documents(env_render, tree))
    sources = _sources(env_render, documents)
    for set_name, mode in sorted(env_render.env.policies.items()):
        if mode == "off":
            continue
        policies = PolicySet(platform.policies[set_name], data={"renderer": {"env": _env_data(env_render)}})
        for path, document in documents:
            results, counts = policies.check(path, document)
            report.counts.add(counts)
            report.findings += [_finding(env_render, set_name, mode, r, sources) for r in results]
        if policies.combined:
            results, counts = policies.check_combined(documents)
            report.counts.add(counts)
            report.findings += [_finding(env_render, set_name, mode, r, sources) for r in results]
    return report


def _env_data(result: EnvRender) -> dict[str, Any]:
    env = result.env
    return {**env.as_context(), "allowed_registries": list(env.allowed_registries), "delivery": env.delivery}


def _documents(result: EnvRender, tree: Mapping[str, bytes]) -> Iterator[tuple[str, Any]]:
    """Score workloads, every rendered Kubernetes object, and the Terraform as conftest reads .tf.json."""
    for wl in result.workloads:
        yield wl.file, dict(wl.spec)
    env = result.env.id
    for path in sorted(tree):
        if path.startswith(f"kubernetes/{env}/") and not path.endswith("kustomization.yaml"):
            yield path, yaml.load(tree[path], Loader=_Loader)
        elif path.endswith(".tf.json") and path.startswith((f"terraform/{env}/", "terraform/modules/")):
            yield path, json.loads(tree[path])


def _sources(result: EnvRender, documents: list[tuple[str, Any]]) -> dict[str, tuple[str, str]]:
    """Rendered path → (object, Score file behind it)."""
    by_uid = {uid: n.requesters[0].file for uid, n in result.graph.nodes.items() if n.requesters}
    by_origin = {wl.origin: wl.file for wl in result.workloads}
    out = {}
    for path, doc in documents:
        if path.startswith("kubernetes/") and isinstance(doc, dict):
            meta = doc.get("metadata") or {}
            notes = meta.get("annotations") or {}
            source = by_origin.get(notes.get(ANNOTATION_SOURCE, ""), "") or by_uid.get(
                notes.get(ANNOTATION_UID, ""), ""
            )
            out[path] = (f"{doc.get('kind')}/{meta.get('name')}", source)
        elif path.endswith(".tf.json"):
            out[path] = ("Terraform", "")
        else:
            out[path] = ("Score workload", path)
    return out


def _finding(
    result: EnvRender, set_name: str, mode: str, r: Result, sources: Mapping[str, tuple[str, str]]
) -> Finding:
    obj, source = sources.get(r.path, ("documents", ""))
    return Finding(result.env.id, set_name, mode, r, obj, source)
