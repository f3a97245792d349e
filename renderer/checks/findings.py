"""The check stage, shared by render, publish and validate: schemas and policies before any write."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from renderer.checks import catalog, collisions, kubeschema, secrets
from renderer.checks.rego.engine import PolicyLoadError
from renderer.checks.rego.gatekeeper import Admission, compile_template
from renderer.checks.rego.policyset import Counts, PolicySet, Result
from renderer.data import Json, as_json, json_object
from renderer.errors import PolicyDenied, Problem, of_kind
from renderer.inputs.yamlio import load_json
from renderer.model import Environment, Platform, PolicySource, Workload
from renderer.render.environment import EnvRender
from renderer.render.kubernetes.labels import ANNOTATION_SOURCE, ANNOTATION_UID
from renderer.render.terraform import is_module_path, module_files
from renderer.render.tree import SHARED


@dataclass(frozen=True, slots=True)
class Finding:
    env: str
    policy_set: str
    mode: str  # deny or warn: how the environment enforces the set
    result: Result
    object: str  # Kind/name, or "Score workload", or "Terraform"
    source: str  # the Score file behind it, when there is one
    line: int = 0  # where the object starts in its file (rendered files hold one object each)

    def as_problem(self) -> Problem:
        rule = f"{self.policy_set}/{self.result.namespace}.{self.result.rule}"
        hint = f"from {self.source}" if self.source and self.source != self.result.path else ""
        message = f"DENY [{self.env}] {rule}: {self.result.message}"
        return Problem(self.result.path, self.line, self.object, message, hint, "policy")

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
    secrets: list[Problem] = field(default_factory=list)  # the secret scan's hits: always a denial
    conflicts: list[Problem] = field(default_factory=list)  # apps that claim the same thing

    @property
    def denials(self) -> list[Finding]:
        return [f for f in self.findings if f.result.kind == "failure" and f.mode == "deny"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f not in self.denials and f.result.kind != "exception"]

    def merge(self, other: Report) -> None:
        self.findings += other.findings
        self.counts.add(other.counts)
        self.schema.checked += other.schema.checked
        self.schema.problems += other.schema.problems
        self.schema.against |= other.schema.against
        self.secrets += [p for p in other.secrets if p not in self.secrets]  # a workload in two envs
        self.conflicts += other.conflicts
        for kind, n in other.schema.unchecked.items():
            self.schema.unchecked[kind] = self.schema.unchecked.get(kind, 0) + n


def enforce(report: Report) -> Report:
    """Raise PolicyDenied (nothing is written) on a schema error or a denying policy."""
    problems = of_kind(report.schema.problems, "schema") + of_kind(report.secrets, "policy")
    problems += of_kind(report.conflicts, "platform") + [f.as_problem() for f in report.denials]
    if problems:
        counts = Counter(p.kind for p in problems)
        kinds = ", ".join(f"{counts[k]} {k}" for k in sorted(counts))
        raise PolicyDenied(f"{len(problems)} check(s) failed ({kinds}); nothing was written", problems)
    return report


def compile_policies(platform: Platform) -> list[Problem]:
    """Every policy set must compile, tests included, used by an environment or not."""
    problems = []
    for name, source in sorted(platform.policies.items()):
        try:
            compiled = PolicySet(source, with_tests=True)
            for package in compiled.engine.packages():
                compiled.engine.evaluate(package, {})  # regorus checks rule bodies on first use
        except PolicyLoadError as exc:
            problems.append(Problem(f"policies/{name}", 0, "", str(exc), "fix the Rego syntax", "platform"))
        for template in source.templates:
            try:
                compile_template(template)
            except PolicyLoadError as exc:
                hint = "fix the template's Rego"
                problems.append(Problem(template.file, template.line, "", str(exc), hint, "platform"))
    return problems


def evaluate(
    env_render: EnvRender,
    platform: Platform,
    sensitive: Sequence[str] = (),
    app_owners: Mapping[str, str] | None = None,
    elsewhere: Sequence[tuple[str, Json]] = (),
    workloads: Sequence[Workload] | None = None,
) -> Report:
    """Secret scan, schemas, and the environment's policy sets on one environment's tree.

    `sensitive`: values of the renderer's own credentials, which must appear in no file;
    `elsewhere`: objects of apps not rendered now (their last publish), for the collision check;
    `workloads`: the Score workloads scanned and checked (None: the render's); a focused render
    passes those whose inputs it uses that were not checked here before (`pipeline._checked`)."""
    env = env_render.env
    tree = {**env_render.tree, **module_files(platform, [env.id])}
    versions = {env.id: env.kubernetes_version}
    workloads = env_render.analysis.workloads if workloads is None else workloads
    documents = list(_documents(workloads, env_render, tree))
    sources = _sources(env_render, documents)
    sets = [
        (name, mode, PolicySet(platform.policies[name], data={"renderer": {"env": _env_data(env)}}))
        for name, mode in sorted(env.policies.items())
        if mode != "off"
    ]
    # the combined packages before anything else: the engine then holds every object of the
    # environment at once (several times their JSON), and the memory it gives back is what the
    # later checks reuse instead of adding to (docs/decisions.md, "Combined policies first")
    combined = {name: policies.check_combined(documents) for name, _, policies in sets if policies.combined}
    report = Report(
        schema=kubeschema.check_documents(env_render.documents, versions, platform.apis, env_render.tree)
    )
    report.schema.problems += catalog.check_catalog(env_render.catalog)
    for wl in workloads:
        report.secrets += secrets.scan_workload(wl, platform.trust.secret_allow)
    report.secrets += secrets.scan_tree(tree, sensitive)
    report.conflicts += collisions.ingress_collisions([*elsewhere, *documents], app_owners)
    apps_objects = f"kubernetes/{env.id}/"
    report.secrets += secrets.scan_rendered(
        [(p, tree[p], d) for p, d in documents if p.startswith(apps_objects) and f"/{SHARED}/" not in p]
    )
    for set_name, mode, policies in sets:  # each set's findings in the order they always came in
        for results, counts in policies.check_each(documents):
            report.counts.add(counts)
            report.findings += [_finding(env.id, set_name, mode, r, sources) for r in results]
        if set_name in combined:
            results, counts = combined[set_name]
            report.counts.add(counts)
            report.findings += [_finding(env.id, set_name, mode, r, sources) for r in results]
        if platform.policies[set_name].constraints:
            results, counts = _admission(env, platform.policies[set_name], documents)
            report.counts.add(counts)
            report.findings += [_finding(env.id, set_name, mode, r, sources) for r in results]
    return report


def _admission(
    env: Environment, source: PolicySource, documents: list[tuple[str, Json]]
) -> tuple[list[Result], Counts]:
    """The set's Gatekeeper constraints on the environment's rendered Kubernetes objects and its
    GitOps entry points (a cluster admits both); the inventory (`data.inventory`) is all of them."""
    ours = (f"kubernetes/{env.id}/", f"clusters/{env.id}/")  # the objects and the entry points
    objects = [(p, d) for p, d in documents if p.startswith(ours) and p.endswith(".yaml")]
    return Admission(source, objects).check(objects)


def _env_data(env: Environment) -> dict[str, Json]:
    return {**env.as_context(), "allowed_registries": list(env.allowed_registries), "delivery": env.delivery}


def _documents(
    workloads: Sequence[Workload], result: EnvRender, tree: Mapping[str, bytes]
) -> Iterator[tuple[str, Json]]:
    """Score workloads, every rendered Kubernetes object, and the Terraform as conftest reads .tf.json."""
    for wl in workloads:
        yield wl.file, as_json(wl.spec)
    for path in sorted(tree):
        if path in result.documents:  # the environment's objects and Terraform, as rendered
            yield path, result.documents[path]
        elif path.endswith(".tf.json") and is_module_path(path):
            yield path, load_json(tree[path], path)  # the platform's own module files, as given


def _sources(result: EnvRender, documents: list[tuple[str, Json]]) -> dict[str, tuple[str, str, int]]:
    """Rendered path → (object, Score file behind it, the line the object starts on)."""
    analysis = result.analysis
    starts = {wl.file: wl.doc.line([]) for wl in analysis.workloads}
    by_uid = {uid: n.requesters[0].file for uid, n in analysis.graph.nodes.items() if n.requesters}
    by_origin = {wl.origin: wl.file for wl in analysis.workloads}
    out = {}
    for path, doc in documents:
        if path.startswith(("kubernetes/", "clusters/")) and isinstance(doc, Mapping):
            meta = json_object(doc.get("metadata"))
            notes = json_object(meta.get("annotations"))
            source = by_origin.get(str(notes.get(ANNOTATION_SOURCE, "")), "") or by_uid.get(
                str(notes.get(ANNOTATION_UID, "")), ""
            )
            out[path] = (f"{doc.get('kind')}/{meta.get('name')}", source, 1)
        elif path.endswith(".tf.json"):
            out[path] = ("Terraform", "", 1)
        else:
            out[path] = ("Score workload", path, starts.get(path, 1))
    return out


def _finding(
    env: str, set_name: str, mode: str, r: Result, sources: Mapping[str, tuple[str, str, int]]
) -> Finding:
    obj, source, line = sources.get(r.path, ("documents", "", 0))
    return Finding(env, set_name, mode, r, obj, source, line)
