"""Platform inputs: definitions, matching by specificity, the graph, explain, template safety."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from renderer import pipeline
from renderer.errors import EXIT_INVALID, EXIT_USAGE
from renderer.inputs import app_repo, platform_config
from renderer.inputs.yamlio import load_text
from renderer.resolve import templates
from renderer.resolve.templates import TemplateFailure
from tests.conftest import ROOT, write

DEF = """apiVersion: renderer.platform/v1
kind: ResourceDefinition
id: {id}
type: {type}
{extra}driver: static
outputs:
  host: {host}
"""


def _def(project: Path, name: str, **kw: str) -> Path:
    fields = {"extra": "", "host": "h", **kw}
    return write(project / "platform-config" / "resources" / f"{name}.yaml", DEF.format(**fields))


def _only_app(project: Path, score: str) -> None:
    apps = project / "examples" / "apps"
    shutil.rmtree(apps)
    write(apps / "solo" / "score.yaml", score)


SOLO = """apiVersion: score.dev/v1b1
metadata: {{name: solo}}
containers:
  main:
    image: ghcr.io/example/solo:1.0.0
    variables: {{HOST: "${{resources.thing.host}}"}}
resources:
  thing: {{type: thing{more}}}
"""


def test_shipped_inputs_validate(cli: Callable[..., Result]) -> None:
    result = cli("validate", "--root", str(ROOT))
    assert result.exit_code == 0, result.output
    assert "ok: 5 workloads in 2 apps, 4 environments" in result.output
    assert "objects valid against the Kubernetes schema and CRD schemas (Kubernetes 1.35.0, " in result.output
    assert "not checked" not in result.output


def test_explain_shows_a_different_postgres_in_dev_and_prod(cli: Callable[..., Result]) -> None:
    views = {}
    for env in ("dev", "prod"):
        result = cli(
            "explain",
            "--root",
            str(ROOT),
            "--app",
            "shop",
            "--workload",
            "api",
            "--env",
            env,
            "--format",
            "json",
        )
        assert result.exit_code == 0, result.output
        views[env] = {r["name"]: r for r in json.loads(result.output)["resources"]}
    assert views["dev"]["db"]["definition"]["id"] == "postgres-in-cluster"
    assert views["prod"]["db"]["definition"]["id"] == "postgres-rds-database"
    prod_db = views["prod"]["db"]
    assert prod_db["outputs"]["password"] == "secret://aws-secrets-manager/platform/prod/shop/api/db#password"
    rejected = {c["definition"]: c for c in prod_db["candidates"]}
    assert rejected["postgres-in-cluster"]["outcome"] == "rejected"
    assert rejected["postgres-in-cluster"]["reason"] == (
        "env_type=development ≠ production | env_type=preview ≠ production"
    )
    instance = prod_db["depends_on"][0]
    assert instance["uid"] == "postgres-instance.default#shared" and instance["shared"]
    text = cli("explain", "--root", str(ROOT), "--app", "shop", "--workload", "api", "--env", "dev")
    assert "db: postgres/default → postgres-in-cluster [kubernetes]" in text.output
    assert "rejected  postgres-rds-database: env_type=staging ≠ development" in text.output


def test_most_specific_definition_wins(project: Path) -> None:
    _only_app(project, SOLO.format(more=", id: special"))
    _def(project, "t0", id="t-any", type="thing", host="any")
    _def(
        project,
        "t1",
        id="t-envtype",
        type="thing",
        host="envtype",
        extra="criteria: [{env_type: development}]\n",
    )
    _def(project, "t2", id="t-app", type="thing", host="app", extra="criteria: [{app: solo}]\n")
    _def(project, "t3", id="t-env", type="thing", host="env", extra="criteria: [{env: dev}]\n")
    _def(
        project,
        "t4",
        id="t-resid",
        type="thing",
        host="resid",
        extra="criteria: [{res_id: special, env: staging}]\n",
    )
    platform = platform_config.load_platform(str(project))
    apps = app_repo.load_apps([str(project / "examples/apps/solo")], str(project))
    winners = {}
    for env in ("dev", "staging", "prod"):
        result = pipeline.analyse_env(platform, apps, env)
        node = next(iter(result.graph.nodes.values()))
        winners[env] = node.definition.id
    assert winners == {"dev": "t-env", "staging": "t-resid", "prod": "t-app"}


def test_miss_lists_every_candidate(project: Path, cli: Callable[..., Result]) -> None:
    _only_app(project, SOLO.format(more=", class: large"))
    _def(project, "t1", id="t-dev", type="thing", extra="criteria: [{env_type: development}]\n")
    _def(project, "t2", id="t-small", type="thing", extra="class: small\n")
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    assert (
        "examples/apps/solo/score.yaml:8 at resources.thing: no resource definition matches "
        "thing/large for env dev (development); considered: t-dev (class=default ≠ large); "
        "t-small (class=small ≠ large) (add a definition or change the type/class)" in result.output
    )


def test_unknown_type_says_so(project: Path, cli: Callable[..., Result]) -> None:
    _only_app(project, SOLO.format(more=""))
    result = cli("validate", "--root", str(project))
    assert (
        "no resource definition matches thing/default for env dev (development); "
        "no definition has type 'thing'" in result.output
    )


def test_exact_duplicate_definitions_rejected(project: Path, cli: Callable[..., Result]) -> None:
    _def(project, "a", id="dup-a", type="thing", extra="criteria: [{env: dev}]\n")
    _def(project, "b", id="dup-b", type="thing", extra="criteria: [{env: dev}]\n")
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    assert (
        "platform-config/resources/b.yaml:5 at criteria: 'dup-b' and 'dup-a' "
        "(platform-config/resources/a.yaml) match exactly the same requests "
        "(thing/default, env=dev) (make one more specific or remove one)" in result.output
    )


def test_graph_cycle_names_every_member(project: Path, cli: Callable[..., Result]) -> None:
    for name, other in (("alpha", "beta"), ("beta", "gamma"), ("gamma", "alpha")):
        write(
            project / "platform-config/resources" / f"{name}.yaml",
            f"apiVersion: renderer.platform/v1\nkind: ResourceDefinition\nid: {name}\n"
            f"type: {name}\ndriver: static\nuses:\n  next: {{type: {other}}}\n",
        )
    _only_app(
        project,
        SOLO.format(more="").replace("thing", "alpha").replace('"${resources.alpha.host}"', "x"),
    )
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    assert (
        "platform: platform-config/resources/alpha.yaml:7 at uses.next: resource graph has a cycle: "
        "alpha.default#default → beta.default#default → gamma.default#default → alpha.default#default "
        "(break one of the references)"
    ) in result.output.splitlines()


def test_params_schema_rejection_points_at_score_file(project: Path, cli: Callable[..., Result]) -> None:
    _only_app(
        project,
        SOLO.format(more="")
        .replace("type: thing", "type: route, params: {host: BAD, port: 80}")
        .replace('"${resources.thing.host}"', "x"),
    )
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    assert (
        "examples/apps/solo/score.yaml:8 at resources.thing.params.host: params rejected by "
        "definition 'route-ingress': 'BAD' does not match"
    ) in result.output


def test_template_error_names_definition_file_and_line(project: Path, cli: Callable[..., Result]) -> None:
    path = project / "platform-config/resources/route.yaml"
    path.write_text(
        path.read_text().replace("ingressClassName: nginx", "ingressClassName: {{ res.nothing }}")
    )
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    assert (
        "platform-config/resources/route.yaml:23 at template: render template: there is no 'nothing' "
        "here (there is: "
    ) in result.output


def test_template_syntax_error_at_validate(project: Path, cli: Callable[..., Result]) -> None:
    path = project / "platform-config/resources/route.yaml"
    path.write_text(path.read_text().replace("ingressClassName: nginx", "x: {% if %}"))
    result = cli("validate", "--root", str(project))
    assert "platform-config/resources/route.yaml:23 at template: template syntax error" in result.output


@pytest.mark.parametrize("value", ["/x\nkind: Secret", "a: b", "{x: 1}", "[1]", "# c", ""])
def test_developer_strings_cannot_add_yaml_structure(value: str) -> None:
    doc = load_text("template: |\n  path: {{ v }}\n", "def.yaml")[0]
    with pytest.raises(TemplateFailure) as err:
        templates.render("yaml", doc, ("template",), doc.data["template"], {"v": value}, "render")
    assert err.value.problems()[0].render().startswith("def.yaml:2 at template: render: value ")
    assert "is not a plain YAML scalar; write it as {{ ... | tojson }}" in err.value.problems()[0].message
    safe = templates.render("yaml", doc, ("template",), "path: {{ v | tojson }}\n", {"v": value}, "render")
    assert yaml.safe_load(safe) == {"path": value}


def test_developer_strings_are_never_templates(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    _only_app(
        project,
        SOLO.format(more="")
        .replace("type: thing", "type: s3")
        .replace("resources.thing.host", "resources.thing.bucket")
        .replace("    variables: {", '    args: ["{{ 7 * 7 }}", "${metadata.name}"]\n    variables: {'),
    )
    out = tmp_path / "out"
    assert cli("render", "--root", str(project), "--env", "dev", "--out", str(out)).exit_code == 0
    deployment = (out / "kubernetes/dev/solo/solo/deployment-solo.yaml").read_text()
    assert "- '{{ 7 * 7 }}'" in deployment and "49" not in deployment


def test_terraform_strings_from_inputs_stay_literal() -> None:
    from renderer.resolve.drivers.module import escape_terraform

    assert escape_terraform({"a": ["${x}", "%{ if y }"]}) == {"a": ["$${x}", "%%{ if y }"]}


def test_module_inputs_checked_against_declared_variables(project: Path, cli: Callable[..., Result]) -> None:
    path = project / "platform-config/resources/s3.yaml"
    path.write_text(path.read_text().replace("    bucket:", "    buckt:"))
    result = cli("validate", "--root", str(project))
    assert (
        "platform-config/resources/s3.yaml:15 at module.inputs.buckt: module 's3-bucket' "
        "declares no variable 'buckt'" in result.output
    )
    assert "module 's3-bucket' requires input 'bucket'" in result.output


def test_shared_resource_params_must_agree(project: Path, cli: Callable[..., Result]) -> None:
    app = project / "examples/apps/shop/score-worker.yaml"
    other = project / "examples/apps/billing/score-invoicer.yaml"
    other.write_text(
        other.read_text() + "  orders:\n    type: kafka-topic\n    id: shop-orders\n"
        "    params: {partitions: 3}\n"
    )
    assert "partitions: 12" in app.read_text()
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    assert (
        "shared resource kafka-topic.default#shop-orders is given different params in "
        "examples/apps/billing/score-invoicer.yaml" in result.output
    )


def test_unknown_env_and_app_are_usage_errors(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("render", "--root", str(ROOT), "--env", "moon", "--out", str(tmp_path / "o"))
    assert result.exit_code == EXIT_INVALID
    assert "environments: unknown environment 'moon' (known: dev, preview, prod, staging)" in result.output
    result = cli("explain", "--root", str(ROOT), "--app", "nope", "--workload", "x", "--env", "dev")
    assert result.exit_code == EXIT_USAGE
    assert "app 'nope' is neither a directory nor a shipped example app" in result.output


# The shipped examples' resources in prod, as `renderer graph` must name them.
PROD_UIDS = {
    "amqp.default#shop.worker.queue",
    "dns.default#shop.api.dns",
    "dns.default#shop.web.dns",
    "environment.default#billing.invoicer.env",
    "environment.default#shop.api.env",
    "horizontal-pod-autoscaler.default#shop.web.autoscale",
    "kafka-topic.default#shop-orders",
    "mongodb.default#billing.ledger.audit",
    "mssql.default#billing.invoicer.legacy",
    "mysql.default#billing.ledger.store",
    "postgres-instance.default#shared",
    "postgres.default#billing.ledger.reports",
    "postgres.default#shop.api.db",
    "redis.default#shop.api.cache",
    "redis.default#shop.worker.cache",
    "route.default#shop.api.route",
    "route.default#shop.web.route",
    "s3.default#billing.invoicer.invoices",
    "s3.default#shop.api.assets",
    "service-port.default#billing.invoicer.ledger",
    "service.default#shop.web.api",
    "volume.default#shop.api.scratch",
    "volume.persistent#billing.ledger.journal",
}
PROD_WORKLOADS = {"billing/invoicer", "billing/ledger", "shop/api", "shop/web", "shop/worker"}

# (declared node uids in order, uid → definition, workload names, edges (from, label, to))
GraphShape = tuple[list[str], dict[str, str], set[str], set[tuple[str, str, str]]]


def _graph_output(cli: Callable[..., Result], fmt: str) -> str:
    result = cli("graph", "--root", str(ROOT), "--env", "prod", "--format", fmt)
    assert result.exit_code == 0, result.output
    return result.output


def _json_graph(text: str) -> GraphShape:
    data = json.loads(text)
    assert set(data) == {"env", "nodes", "order", "workloads"}
    assert data["env"] == "prod"
    uids = [n["uid"] for n in data["nodes"]]
    assert data["order"] == uids, "nodes are listed in the graph's order"
    edges = {(w["workload"], w["resource"], w["uid"]) for w in data["workloads"]}
    edges |= {(n["uid"], name, dep) for n in data["nodes"] for name, dep in n["deps"].items()}
    return (
        uids,
        {n["uid"]: n["definition"] for n in data["nodes"]},
        {w["workload"] for w in data["workloads"]},
        edges,
    )


def _parse_lines(lines: list[str], workload: str, resource: str, edge: str, sep: str) -> GraphShape:
    """Every line is a workload node, a resource node or an edge, per the three patterns."""
    names: dict[str, str] = {}
    order: list[str] = []
    definitions: dict[str, str] = {}
    workloads: set[str] = set()
    raw_edges = []
    for line in lines:
        if m := re.fullmatch(workload, line):
            names[m["id"]] = m["name"]
            workloads.add(m["name"])
        elif m := re.fullmatch(resource, line):
            uid, definition = m["label"].split(sep)
            names[m["id"]] = uid
            order.append(uid)
            definitions[uid] = definition
        elif m := re.fullmatch(edge, line):
            raw_edges.append((m["src"], m["label"], m["dst"]))
        else:
            raise AssertionError(f"not a node or an edge: {line!r}")
    edges = {(names[a], label, names[b]) for a, label, b in raw_edges}
    return order, definitions, workloads, edges


def _mermaid_graph(text: str) -> GraphShape:
    first, *rest = text.replace("<br>", "").splitlines()  # `<br>` wraps a long name (labels.WRAP)
    assert first == "flowchart LR"
    return _parse_lines(
        rest,
        workload=r'  (?P<id>w\d+)\["(?P<name>[^"]+)"\]',
        resource=r'  (?P<id>n\d+)\(\["(?P<label>[^"]+)"\]\)',
        edge=r"  (?P<src>[wn]\d+) -->\|(?P<label>[^|]+)\| (?P<dst>n\d+)",
        sep="<br/>",
    )


def _dot_graph(text: str) -> GraphShape:
    first, second, *rest, last = text.splitlines()
    assert (first, second, last) == ('digraph "prod" {', "  rankdir=LR;", "}")
    return _parse_lines(
        rest,
        workload=r'  (?P<id>w\d+) \[label="(?P<name>[^"]+)", shape=box\];',
        resource=r'  (?P<id>n\d+) \[label="(?P<label>[^"]+)"\];',
        edge=r'  (?P<src>[wn]\d+) -> (?P<dst>n\d+) \[label="(?P<label>[^"]+)"\];',
        sep="\\n",
    )


def test_graph_json_is_the_resource_graph(cli: Callable[..., Result]) -> None:
    order, definitions, workloads, edges = _json_graph(_graph_output(cli, "json"))
    assert set(order) == PROD_UIDS and len(order) == len(PROD_UIDS)
    assert workloads == PROD_WORKLOADS
    position = {uid: i for i, uid in enumerate(order)}
    for src, _, dst in edges:
        if src in position:
            assert position[dst] < position[src], f"{dst} must come before {src}, which uses it"
    assert definitions["postgres-instance.default#shared"] == "postgres-instance-rds"
    assert ("shop/api", "db", "postgres.default#shop.api.db") in edges
    assert ("postgres.default#shop.api.db", "uses:instance", "postgres-instance.default#shared") in edges
    assert ("billing/ledger", "reports", "postgres.default#billing.ledger.reports") in edges
    assert ("route.default#shop.web.route", "dns", "dns.default#shop.web.dns") in edges


@pytest.mark.parametrize(("fmt", "parse"), [("mermaid", _mermaid_graph), ("dot", _dot_graph)])
def test_graph_drawings_show_the_json_graph(
    cli: Callable[..., Result], fmt: str, parse: Callable[[str], GraphShape]
) -> None:
    """Mermaid and DOT, each parsed by its own syntax, hold the same nodes and edges as the JSON."""
    drawn, wanted = parse(_graph_output(cli, fmt)), _json_graph(_graph_output(cli, "json"))
    parts = ("node order", "definitions", "workloads", "edges")
    for part, got, want in zip(parts, drawn, wanted, strict=True):
        assert got == want, part


def test_templates_cannot_mutate_shared_context() -> None:
    doc = load_text("template: |\n  x: {{ res.update({'a': 1}) }}\n", "def.yaml")[0]
    with pytest.raises(TemplateFailure, match="def.yaml:2 at template: render: .*unsafe"):
        templates.render("yaml", doc, ("template",), doc.data["template"], {"res": {}}, "render")


def test_params_cannot_take_secret_outputs(project: Path, cli: Callable[..., Result]) -> None:
    _only_app(
        project,
        """apiVersion: score.dev/v1b1
metadata: {name: solo}
containers:
  main: {image: ghcr.io/example/solo:1.0.0}
resources:
  db: {type: postgres}
  topic: {type: kafka-topic, params: {partitions: 1, note: "${resources.db.password}"}}
""",
    )
    result = cli("validate", "--root", str(project))
    assert result.exit_code == EXIT_INVALID
    assert (
        "examples/apps/solo/score.yaml:7 at resources.topic.params.note: params: secret output "
        "secret://kubernetes/" in result.output
    )
    assert "cannot be used here (params take no secrets; pass them as variables)" in result.output
