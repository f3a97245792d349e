"""Every problem the resolve stage reports (matching, the graph, params, profiles, templates, drivers),
triggered through the CLI and asserted with the file, line and YAML path it points at."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from renderer.errors import EXIT_INVALID
from tests.conftest import Problems, edit, located, write

THING = """apiVersion: renderer.platform/v1
kind: ResourceDefinition
id: {id}
type: thing
driver: {driver}
{extra}"""

SOLO = """apiVersion: score.dev/v1b1
metadata:
  name: solo
containers:
  main:
    image: ghcr.io/example/solo:1.0.0
    variables:
      THING: ${{resources.thing.host}}
resources:
  thing:
    type: thing
{more}"""


def _thing(
    project: Path, extra: str = "outputs:\n  host: h\n", driver: str = "static", id_: str = "t"
) -> str:
    """A definition of type `thing`, in platform-config/resources/<id>.yaml; returns that path."""
    rel = f"platform-config/resources/{id_}.yaml"
    write(project / rel, THING.format(id=id_, driver=driver, extra=extra))
    return rel


def _apps(project: Path, **scores: str) -> None:
    """Replace the example apps by these: app id → Score text (workload in score.yaml)."""
    apps = project / "examples" / "apps"
    shutil.rmtree(apps)
    for app, text in scores.items():
        write(apps / app / "score.yaml", text)


def _problems(cli: Callable[..., Result], *args: str) -> Problems:
    result = cli(*args, "--format", "json")
    assert result.exit_code == EXIT_INVALID, result.output
    report = json.loads(result.stdout)
    assert report["error"] == "InputError"
    problems: Problems = report["problems"]
    return problems


def _validate(cli: Callable[..., Result], project: Path) -> Problems:
    return _problems(cli, "validate", "--root", str(project))


# ---- matching and the graph ------------------------------------------------------------------


def test_uses_that_matches_no_definition(project: Path, cli: Callable[..., Result]) -> None:
    _apps(project, solo=SOLO.format(more=""))
    rel = _thing(project, "uses:\n  facts:\n    type: environment\n    class: big\noutputs:\n  host: h\n")
    problems = _validate(cli, project)
    assert len(problems) == 3  # one per environment
    assert problems[0] == located(
        rel,
        7,
        "uses.facts",
        "no resource definition matches environment/big for env dev (development); "
        "considered: environment-facts (class=default ≠ big)",
        kind="platform",
    )


def test_shared_resource_matched_by_two_definitions(project: Path, cli: Callable[..., Result]) -> None:
    platform_wide = "access: {shared: platform}\n"
    _thing(project, f"criteria: [{{app: aaa}}]\n{platform_wide}outputs:\n  host: a\n", id_="t-aaa")
    _thing(project, f"criteria: [{{app: bbb}}]\n{platform_wide}outputs:\n  host: b\n", id_="t-bbb")
    shared = "    id: one\n"
    _apps(project, aaa=SOLO.format(more=shared), bbb=SOLO.format(more=shared).replace("solo", "other"))
    problems = _validate(cli, project)
    assert problems[0] == located(
        "examples/apps/bbb/score.yaml",
        10,
        "resources.thing",
        "shared resource thing.default#one matches 't-bbb' here but 't-aaa' for aaa/solo",
        "shared resources must resolve to one definition",
        kind="platform",
    )


def test_cycle_among_definitions_names_a_definition(project: Path, cli: Callable[..., Result]) -> None:
    rel = _thing(project, "uses:\n  next:\n    type: thing2\noutputs:\n  host: h\n")
    write(
        project / "platform-config/resources/t2.yaml",
        THING.format(id="t2", driver="static", extra="uses:\n  back:\n    type: thing\n").replace(
            "type: thing\n", "type: thing2\n", 1
        ),
    )
    _apps(project, solo=SOLO.format(more="    id: looped\n"))
    problems = _validate(cli, project)
    # no workload requests the nodes of the cycle: it is reported at the definition's `uses` edge
    assert problems[0] == located(
        rel,
        7,
        "uses.next",
        "resource graph has a cycle: thing.default#default → thing2.default#default → thing.default#default",
        "break one of the references",
        kind="platform",
    )


def test_cycle_through_params_is_reported_at_the_request(project: Path, cli: Callable[..., Result]) -> None:
    _thing(project, "outputs:\n  host: h\n")
    score = SOLO.format(more='    params: {peer: "${resources.other.host}"}\n  other:\n    type: thing\n')
    _apps(project, solo=score + '    params: {peer: "${resources.thing.host}"}\n')
    problems = _validate(cli, project)
    assert problems[0] == located(
        "examples/apps/solo/score.yaml",
        13,
        "",
        "resource graph has a cycle: thing.default#solo.solo.other → thing.default#solo.solo.thing → "
        "thing.default#solo.solo.other",
        "break one of the references",
        kind="platform",
    )


def test_overrides_for_an_unknown_environment(project: Path, cli: Callable[..., Result]) -> None:
    _thing(project)
    _apps(project, solo=SOLO.format(more=""))
    write(project / "examples/apps/solo/overrides/moon/solo.yaml", "metadata: {annotations: {team: x}}\n")
    assert _validate(cli, project) == [
        located(
            "examples/apps/solo/overrides/moon/solo.yaml",
            0,
            "",
            "overrides for unknown environment 'moon'",
            "known: dev, preview, prod, staging",
            kind="platform",
        )
    ]


def test_no_profile_for_an_annotated_class(project: Path, cli: Callable[..., Result]) -> None:
    _thing(project)
    trust = project / "platform-config/trust.yaml"
    trust.write_text(
        trust.read_text().replace("development: [default, stateful]", "development: [default, gpu]")
    )
    score = SOLO.format(more="").replace(
        "  name: solo\n", "  name: solo\n  annotations:\n    renderer.platform/profile: gpu\n"
    )
    _apps(project, solo=score)
    problems = _validate(cli, project)
    assert problems[0] == located(
        "examples/apps/solo/score.yaml",
        5,
        'metadata.annotations["renderer.platform/profile"]',
        "no workload profile of class 'gpu' applies to env dev (development)",
        "add a profile in platform-config/profiles",
        kind="platform",
    )


def test_no_default_profile_for_an_environment(project: Path, cli: Callable[..., Result]) -> None:
    _thing(project)
    _apps(project, solo=SOLO.format(more=""))
    (project / "platform-config/profiles/development.yaml").unlink()
    assert _validate(cli, project) == [
        located(
            "examples/apps/solo/score.yaml",
            1,
            "",
            "no workload profile of class 'default' applies to env dev (development)",
            "add a profile in platform-config/profiles",
            kind="platform",
        )
    ]


# ---- params ----------------------------------------------------------------------------------

PARAMS = """apiVersion: score.dev/v1b1
metadata:
  name: solo
containers:
  main:
    image: ghcr.io/example/solo:1.0.0
resources:
  dns:
    type: dns
  thing:
    type: thing
    params:
      note: "{ref}"
"""


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (
            "${resources.dns.nope}",
            "params: invalid ref 'resources.dns.nope': resource 'dns' (dns-environment-domain) has no "
            "output 'nope' (outputs: host)",
        ),
        (
            "${resources.dns.host.deeper}",
            "params: invalid ref 'resources.dns.host.deeper': cannot lookup key 'deeper', "
            "context is not a map",
        ),
    ],
)
def test_params_reference_that_does_not_resolve(
    project: Path, cli: Callable[..., Result], ref: str, message: str
) -> None:
    _thing(project)
    _apps(project, solo=PARAMS.format(ref=ref))
    problems = _validate(cli, project)
    assert problems[0] == located(  # no hint about secrets: there is none here
        "examples/apps/solo/score.yaml", 13, "resources.thing.params.note", message, kind="platform"
    )


def test_params_reference_to_a_missing_nested_output(project: Path, cli: Callable[..., Result]) -> None:
    _thing(project, "outputs:\n  conn:\n    host: h\n    port: 1\n", id_="t-conn")
    score = PARAMS.format(ref="${resources.dns.host}").replace("type: dns", "type: thing\n    id: conn")
    score = score.replace("${resources.dns.host}", "${resources.dns.conn.user}")
    _apps(project, solo=score)
    problems = _validate(cli, project)
    assert problems[0] == located(
        "examples/apps/solo/score.yaml",
        14,
        "resources.thing.params.note",
        "params: invalid ref 'resources.dns.conn.user': key 'user' not found (known: host, port)",
        kind="platform",
    )


def test_shared_resource_params_resolve_against_the_workload_that_gives_them(
    project: Path, cli: Callable[..., Result]
) -> None:
    note = "outputs:\n  note: \"{{ res.params.note | default('none') }}\"\n"
    _thing(project, "access:\n  shared: platform\n" + note, id_="t-shared")  # two apps share it
    write(
        project / "platform-config/resources/other.yaml",
        THING.format(id="other", driver="static", extra="outputs:\n  id: from-aaa\n").replace(
            "type: thing\n", "type: other\n", 1
        ),
    )
    first = SOLO.format(more="    id: one\n  env:\n    type: other\n").replace("host}", "note}")
    second = (
        SOLO.format(
            more='    id: one\n    params: {note: "${resources.env.id}"}\n  env:\n    type: environment\n'
        )
        .replace("host}", "note}")
        .replace("solo", "second")
    )
    _apps(project, aaa=first, bbb=second)
    result = cli("explain", "--root", str(project), "--app", "bbb", "--workload", "second", "--env", "dev")
    assert result.exit_code == 0, result.output
    out = project / "out"
    assert cli("render", "--root", str(project), "--env", "dev", "--out", str(out)).exit_code == 0
    deployment = (out / "kubernetes/dev/bbb/second/deployment-second.yaml").read_text()
    assert "value: dev" in deployment  # bbb's own `env`, not aaa's (`from-aaa`)


def test_shared_resource_params_given_alike_wait_for_the_givers_resources(
    project: Path, cli: Callable[..., Result]
) -> None:
    """Both apps give the same params; aaa's (the first) are used, so the shared node's edges are
    aaa's: it waits for aaa's `env` (uid after its own), not for bbb's (uid before it)."""
    note = "outputs:\n  note: \"{{ res.params.note | default('none') }}\"\n"
    _thing(project, "access:\n  shared: platform\n" + note, id_="t-shared")
    write(
        project / "platform-config/resources/zzz.yaml",
        THING.format(id="zzz", driver="static", extra="outputs:\n  id: from-aaa\n").replace(
            "type: thing\n", "type: zzz\n", 1
        ),
    )
    params = '    id: one\n    params: {note: "${resources.env.id}"}\n'
    first = SOLO.format(more=params + "  env:\n    type: zzz\n").replace("host}", "note}")
    second = SOLO.format(more=params + "  env:\n    type: environment\n").replace("host}", "note}")
    _apps(project, aaa=first, bbb=second.replace("solo", "second"))
    out = project / "out"
    result = cli("render", "--root", str(project), "--env", "dev", "--out", str(out))
    assert result.exit_code == 0, result.output
    deployment = (out / "kubernetes/dev/bbb/second/deployment-second.yaml").read_text()
    assert "value: from-aaa" in deployment


# ---- templates and drivers -------------------------------------------------------------------


# A definition's template that fails says for which request it was resolving
FOR_SOLO = "while resolving thing 'thing' for examples/apps/solo/score.yaml"


def test_template_places_a_mapping_without_tojson(project: Path, cli: Callable[..., Result]) -> None:
    template = "template: |\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {{ res.metadata }}\n"
    rel = _thing(project, template + "outputs:\n  host: h\n", driver="kubernetes")
    _apps(project, solo=SOLO.format(more=""))
    problems = _validate(cli, project)
    assert problems[0] == located(
        rel,
        9,
        "template",
        "render template: a dict cannot be placed in YAML unquoted; use tojson",
        FOR_SOLO,
        kind="platform",
    )


@pytest.mark.parametrize(
    ("extra", "line", "path", "message"),
    [
        (
            "outputs:\n  host: '{{ res.nothing }}'\n",
            7,
            "outputs.host",
            "render outputs: there is no 'nothing' here (there is: class, guid, id, metadata, name, params,",
        ),
        (
            "outputs:\n  host: h\nsecret_outputs:\n  pw:\n    secret: s\n    key: '{{ nope }}'\n",
            11,
            "secret_outputs.pw.key",
            "render secret outputs: 'nope' is undefined",
        ),
    ],
)
def test_output_template_that_fails(
    project: Path, cli: Callable[..., Result], extra: str, line: int, path: str, message: str
) -> None:
    rel = _thing(project, extra)
    _apps(project, solo=SOLO.format(more=""))
    problems = _validate(cli, project)
    assert (problems[0]["file"], problems[0]["line"], problems[0]["path"]) == (rel, line, path)
    assert str(problems[0]["message"]).startswith(message)


def test_module_input_template_that_fails(project: Path, cli: Callable[..., Result]) -> None:
    edit(project / "platform-config/resources/s3.yaml", "{{ secret_path }}", "{{ secret_path.nope }}")
    problems = _problems(cli, "validate", "--root", str(project))
    assert problems[0] == located(
        "platform-config/resources/s3.yaml",
        17,
        "module.inputs.secret_path",
        "render module inputs: 'str object' has no attribute 'nope'",
        "while resolving s3 'assets' for examples/apps/shop/score.yaml",
        kind="platform",
    )


def test_template_syntax_error_at_explain(project: Path, cli: Callable[..., Result]) -> None:
    """`explain` and `graph` resolve without the platform check of `validate`: the template
    compiler's error must name the definition file and line there as well."""
    edit(project / "platform-config/resources/route.yaml", "ingressClassName: nginx", "x: {% if %}")
    for args in (
        ("explain", "--app", "shop", "--workload", "web", "--env", "dev"),
        ("graph", "--env", "dev"),
    ):
        result = cli(*args, "--root", str(project))
        assert result.exit_code == EXIT_INVALID, result.output
        assert result.output.splitlines()[0].startswith(
            "platform: platform-config/resources/route.yaml:23 at template: render template: template syntax "
            "error: Expected an expression, got 'end of statement block' (while resolving route "
        )


def test_template_output_that_is_not_yaml(project: Path, cli: Callable[..., Result]) -> None:
    """One line: the parser's problem and the line of the rendered output, at the template's line
    (a line of the rendered text is no line of the definition file once Jinja adds or drops lines)."""
    template = (
        "template: |\n  {% for i in [1, 2] %}\n  # comment {{ i }}\n  {% endfor %}\n"
        "  apiVersion: v1\n  kind: ConfigMap\n    metadata: x\n"
    )
    rel = _thing(project, template + "outputs:\n  host: h\n", driver="kubernetes")
    _apps(project, solo=SOLO.format(more=""))
    assert _validate(cli, project) == [  # the same in every environment: reported once
        located(
            rel,
            6,
            "template",
            "template output is not valid YAML: mapping values are not allowed in this context "
            "(line 8 of the rendered output)",  # the loop made 5 lines of 3
            FOR_SOLO,
            kind="platform",
        )
    ]


def test_template_output_with_a_control_character(project: Path, cli: Callable[..., Result]) -> None:
    rel = _thing(project, 'template: "apiVersion: v1\\a"\noutputs:\n  host: h\n', driver="kubernetes")
    _apps(project, solo=SOLO.format(more=""))
    assert _validate(cli, project) == [
        located(
            rel,
            6,
            "template",
            "template output is not valid YAML: unacceptable character #x0007: "
            "control characters are not allowed (line 1 of the rendered output)",
            FOR_SOLO,
            kind="platform",
        )
    ]


def test_template_document_that_is_not_a_kubernetes_object(project: Path, cli: Callable[..., Result]) -> None:
    template = (
        "template: |\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  ---\n  kind: Secret\n"
    )
    rel = _thing(project, template + "outputs:\n  host: h\n", driver="kubernetes")
    _apps(project, solo=SOLO.format(more=""))
    problems = _validate(cli, project)
    assert problems[0] == located(
        rel,
        6,
        "template",
        "document 2 of the template output is not a Kubernetes object "
        "(needs apiVersion, kind and metadata.name)",
        FOR_SOLO,
        kind="platform",
    )


ENV_VALUES = """apiVersion: score.dev/v1b1
metadata:
  name: solo
containers:
  main:
    image: ghcr.io/example/solo:1.0.0
    variables:
      LEVEL: ${{resources.env.{key}}}
      WHERE: ${{resources.env.id}}
resources:
  env:
    type: environment
"""


def test_environment_resource_serves_the_values_of_the_environment_file(
    project: Path, cli: Callable[..., Result]
) -> None:
    _apps(project, solo=ENV_VALUES.format(key="LOG_LEVEL"))
    out = project / "out"
    result = cli("render", "--root", str(project), "--all-envs", "--out", str(out))
    assert result.exit_code == 0, result.output
    for env, level in (("dev", "debug"), ("staging", "info"), ("prod", "warn")):
        text = (out / "kubernetes" / env / "solo" / "solo" / "deployment-solo.yaml").read_text()
        assert f"- name: LEVEL\n          value: {level}\n" in text
        assert f"- name: WHERE\n          value: {env}\n" in text


def test_environment_value_that_is_not_declared_names_the_environment_and_its_keys(
    project: Path, cli: Callable[..., Result]
) -> None:
    _apps(project, solo=ENV_VALUES.format(key="COLOUR"))
    edit(
        project / "environments" / "dev.yaml",
        "  LOG_LEVEL: debug\n",
        "  LOG_LEVEL: debug\n  REGION_NAME: x\n",
    )
    problems = _problems(cli, "validate", "--root", str(project))
    have = {"dev": "LOG_LEVEL, REGION_NAME, ", "prod": "LOG_LEVEL, ", "staging": "LOG_LEVEL, "}
    assert problems == [
        located(
            "examples/apps/solo/score.yaml",
            8,
            "containers.main.variables.LEVEL",
            f"invalid ref 'resources.env.COLOUR': environment {env} (environments/{env}.yaml, values:) "
            f"declares no 'COLOUR' (it has: {have[env]}cluster, domain, id, region, type)",
            kind="platform",
        )
        for env in ("dev", "prod", "staging")
    ]


def test_environment_value_may_not_shadow_an_output_of_the_definition(
    project: Path, cli: Callable[..., Result]
) -> None:
    _apps(project, solo=ENV_VALUES.format(key="LOG_LEVEL"))
    edit(project / "environments" / "prod.yaml", "  LOG_LEVEL: warn\n", "  LOG_LEVEL: warn\n  region: mars\n")
    problems = _problems(cli, "validate", "--root", str(project))
    assert problems == [
        located(
            "environments/prod.yaml",
            33,  # after the gatekeeper policy set, aws.check_role and aws.pin_images
            "values.region",
            "'region' is also an output of environment-facts (platform-config/resources/environment.yaml)",
            "give the value another name",
            kind="platform",
        )
    ]
