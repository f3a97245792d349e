"""Every problem the render and check stages report (containers, files, volumes, references, the tree,
schemas, policies) and the errors of the CLI commands around them, with exit code, file and line."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from renderer.errors import EXIT_INTERNAL, EXIT_INVALID, EXIT_POLICY, EXIT_USAGE
from renderer.review import explain
from tests.conftest import ROOT, Problems, located, write

THING = """apiVersion: renderer.platform/v1
kind: ResourceDefinition
id: t
type: thing
driver: {driver}
{extra}"""

SOLO = """apiVersion: score.dev/v1b1
metadata:
  name: solo
containers:
  main:
    image: ghcr.io/example/solo:1.0.0
{containers}resources:
  thing:
    type: thing
"""


def _setup(
    project: Path, containers: str = "", extra: str = "outputs:\n  host: h\n", driver: str = "static"
) -> str:
    """The only app: `solo`, one workload with a `thing` resource of definition `t` (returns its file)."""
    apps = project / "examples" / "apps"
    shutil.rmtree(apps)
    write(apps / "solo" / "score.yaml", SOLO.format(containers=containers))
    rel = "platform-config/resources/t.yaml"
    write(project / rel, THING.format(driver=driver, extra=extra))
    return rel


def _render(cli: Callable[..., Result], project: Path, *args: str) -> Result:
    return cli("render", "--root", str(project), "--env", "dev", "--out", str(project / "out"), *args)


def _problems(result: Result, exit_code: int = EXIT_INVALID) -> Problems:
    assert result.exit_code == exit_code, result.output
    problems: Problems = json.loads(result.stdout)["problems"]
    return problems


def _render_problems(cli: Callable[..., Result], project: Path) -> Problems:
    problems = _problems(_render(cli, project, "--format", "json"))
    assert not (project / "out").exists()  # nothing was written
    return problems


SCORE = "examples/apps/solo/score.yaml"


# ---- containers ------------------------------------------------------------------------------


def test_container_both_init_and_sidecar(project: Path, cli: Callable[..., Result]) -> None:
    _setup(
        project,
        "    before:\n      side:\n        ready: complete\n      other:\n        ready: started\n"
        "  side:\n    image: ghcr.io/example/side:1\n  other:\n    image: ghcr.io/example/other:1\n",
    )
    assert _render_problems(cli, project) == [
        located(
            SCORE,
            7,
            "containers.main.before",
            "a container cannot both run to completion and keep running",
            kind="platform",
        )
    ]


def test_sidecar_on_a_kubernetes_without_native_sidecars(project: Path, cli: Callable[..., Result]) -> None:
    _setup(
        project,
        "    before:\n      side:\n        ready: started\n  side:\n    image: ghcr.io/example/side:1\n",
    )
    env = project / "environments/dev.yaml"
    env.write_text(env.read_text().replace('kubernetes_version: "1.37"', 'kubernetes_version: "1.28"'))
    apis = project / "platform-config/apis.yaml"  # a platform that still supports 1.28
    apis.write_text(apis.read_text().replace('minors: ["1.35"', 'minors: ["1.28", "1.35"'))
    assert _render_problems(cli, project) == [
        located(
            SCORE,
            7,
            "containers.main.before",
            "ready: started/healthy needs native sidecars (Kubernetes ≥ 1.29); dev runs 1.28",
            kind="platform",
        )
    ]


def test_healthy_sidecar_without_a_readiness_probe(project: Path, cli: Callable[..., Result]) -> None:
    _setup(
        project,
        "    before:\n      side:\n        ready: healthy\n  side:\n    image: ghcr.io/example/side:1\n",
    )
    assert _render_problems(cli, project) == [
        located(
            SCORE,
            7,
            "containers.main.before",
            "ready: healthy needs a readinessProbe on this container",
            kind="platform",
        )
    ]


# ---- files, volumes and references -----------------------------------------------------------


def test_in_cluster_secret_inside_file_content(project: Path, cli: Callable[..., Result]) -> None:
    _setup(
        project,
        "    files:\n      /etc/app.conf:\n        content: 'password=${resources.thing.pw}'\n",
        "outputs:\n  host: h\nsecret_outputs:\n  pw:\n    secret: s-{{ res.name }}\n    key: password\n",
    )
    assert _render_problems(cli, project) == [
        located(
            SCORE,
            9,
            'containers.main.files["/etc/app.conf"].content',
            "secret://kubernetes/s-thing#password lives only in the cluster and cannot be placed inside "
            "file content",
            "mount it as a variable instead",
            kind="platform",
        )
    ]


def test_volume_from_a_resource_without_a_volume_output(project: Path, cli: Callable[..., Result]) -> None:
    _setup(project, "    volumes:\n      /data:\n        source: ${resources.thing}\n")
    assert _render_problems(cli, project) == [
        located(
            SCORE,
            9,
            'containers.main.volumes["/data"].source',
            "resource 'thing' (t) cannot be mounted: its definition has no 'volume' output "
            "(a Kubernetes volume source)",
            kind="platform",
        )
    ]


def test_references_that_do_not_resolve_at_render(project: Path, cli: Callable[..., Result]) -> None:
    _setup(
        project,
        "    command: ['${resources.thing.conn.user}']\n"
        "    args: ['${resources.thing.host.deeper}']\n"
        "    variables:\n      A: ${resources.thing.nope}\n",
        "outputs:\n  host: h\n  conn:\n    host: h\n",
    )
    # the first failure of the workload is reported: variables come before command and args
    assert _render_problems(cli, project) == [
        located(
            SCORE,
            10,
            "containers.main.variables.A",
            "invalid ref 'resources.thing.nope': resource 'thing' (t) has no output 'nope' "
            "(outputs: conn, host)",
            kind="platform",
        )
    ]
    score = project / SCORE
    score.write_text(score.read_text().replace("      A: ${resources.thing.nope}\n", "      A: x\n"))
    assert _render_problems(cli, project) == [
        located(
            SCORE,
            7,
            "containers.main.command[0]",
            "invalid ref 'resources.thing.conn.user': key 'user' not found (known: host)",
            kind="platform",
        )
    ]
    score.write_text(score.read_text().replace("['${resources.thing.conn.user}']", "[run]"))
    assert _render_problems(cli, project) == [
        located(
            SCORE,
            8,
            "containers.main.args[0]",
            "invalid ref 'resources.thing.host.deeper': cannot lookup key 'deeper', context is not a map",
            kind="platform",
        )
    ]


# ---- the tree --------------------------------------------------------------------------------

CONFIG_MAP = (
    "template: |\n  apiVersion: v1\n  kind: {kind}\n  metadata:\n    name: {name}\n"
    "{more}outputs:\n  host: h\n"
)


def test_object_name_that_is_not_a_dns_name(project: Path, cli: Callable[..., Result]) -> None:
    rel = _setup(
        project, extra=CONFIG_MAP.format(kind="ConfigMap", name="Bad_Name", more=""), driver="kubernetes"
    )
    assert _render_problems(cli, project) == [
        located(rel, 0, "", "object name 'Bad_Name' is not a DNS name", kind="platform")
    ]


def test_resource_object_that_collides_with_a_workload_object(
    project: Path, cli: Callable[..., Result]
) -> None:
    rel = _setup(
        project,
        extra=CONFIG_MAP.format(kind="ServiceAccount", name="{{ workload.name }}", more=""),
        driver="kubernetes",
    )
    assert _render_problems(cli, project) == [
        located(
            rel,
            0,
            "",
            "two different objects render to kubernetes/dev/solo/solo/serviceaccount-solo.yaml",
            "give them distinct names",
            kind="platform",
        )
    ]


def test_app_directory_name_that_is_no_path_component(project: Path, cli: Callable[..., Result]) -> None:
    _setup(project)
    apps = project / "examples/apps"
    (apps / "solo").rename(apps / "so\\lo")
    problems = _render_problems(cli, project)
    assert [(p["file"], p["message"]) for p in problems] == [
        ("examples/apps/so\\lo", "app name 'so\\lo' is not a DNS label (lowercase letters, digits and '-')")
    ]


# ---- checks ----------------------------------------------------------------------------------


def test_rendered_object_against_the_kubernetes_schema(project: Path, cli: Callable[..., Result]) -> None:
    _setup(
        project,
        extra=CONFIG_MAP.format(kind="ConfigMap", name="settings", more='  immutable: "yes"\n'),
        driver="kubernetes",
    )
    result = _render(cli, project, "--format", "json")
    report = json.loads(result.stdout)
    assert (result.exit_code, report["error"]) == (EXIT_POLICY, "PolicyDenied")
    assert report["message"] == "1 check(s) failed (1 schema); nothing was written"
    (problem,) = report["problems"]
    assert (problem["file"], problem["line"], problem["path"]) == (
        "kubernetes/dev/solo/solo/configmap-settings.yaml",
        2,
        "immutable",
    )
    assert str(problem["message"]).startswith("v1/ConfigMap is not valid for Kubernetes 1.37.")
    assert str(problem["message"]).endswith(": 'yes' is not of type 'boolean', 'null'")
    assert not (project / "out").exists()


def test_denial_in_text_ends_with_its_summary(project: Path, cli: Callable[..., Result]) -> None:
    _setup(
        project,
        extra=CONFIG_MAP.format(kind="ConfigMap", name="settings", more='  immutable: "yes"\n'),
        driver="kubernetes",
    )
    result = _render(cli, project)
    assert result.exit_code == EXIT_POLICY, result.output
    *problems, summary = result.stderr.splitlines()
    assert [p.split(": ", 2)[:2] for p in problems] == [
        ["schema", "kubernetes/dev/solo/solo/configmap-settings.yaml:2 at immutable"]
    ]
    assert summary == "1 check(s) failed (1 schema); nothing was written"


def test_schema_problem_is_not_hidden_by_a_policy_error(project: Path, cli: Callable[..., Result]) -> None:
    _setup(
        project,
        extra=CONFIG_MAP.format(kind="ConfigMap", name="settings", more="  data:\n    retries: 3\n"),
        driver="kubernetes",
    )
    (problem,) = _problems(_render(cli, project, "--format", "json"), EXIT_POLICY)
    assert (problem["file"], problem["line"], problem["path"]) == (
        "kubernetes/dev/solo/solo/configmap-settings.yaml",
        3,
        "data.retries",
    )
    assert (
        problem["message"]
        == "v1/ConfigMap is not valid for Kubernetes 1.37.0: 3 is not of type 'string', 'null'"
    )


def test_policy_that_does_not_compile(project: Path, cli: Callable[..., Result]) -> None:
    _setup(project)
    write(project / "policies/production/broken.rego", "package broken\n\ndeny[msg] { msg := }\n")
    problems = _problems(cli("validate", "--root", str(project), "--format", "json"))
    assert len(problems) == 1
    assert (problems[0]["file"], problems[0]["line"], problems[0]["hint"]) == (
        "policies/production",
        0,
        "fix the Rego syntax",
    )
    assert str(problems[0]["message"]).startswith(
        "production/broken.rego: not valid Rego (v1: --> production/broken.rego:3:11"
    )


def test_policy_that_fails_on_a_rendered_document(project: Path, cli: Callable[..., Result]) -> None:
    """A rule that compiles but errors on real input denies that document, naming the policy set,
    the package, the Rego file and line, and the rendered file; the other checks' problems (here a
    schema error in the same file) are reported with it, and it denies although dev only warns."""
    _setup(
        project,
        extra=CONFIG_MAP.format(kind="ConfigMap", name="settings", more='  immutable: "yes"\n'),
        driver="kubernetes",
    )
    write(
        project / "policies/baseline/ratio.rego",
        'package ratio\nimport rego.v1\n\ndeny contains msg if {\n  input.kind == "ConfigMap"\n'
        '  x := count(input.metadata.name) / 0\n  msg := sprintf("%v", [x])\n}\n',
    )
    result = _render(cli, project, "--format", "json")
    problems = _problems(result, EXIT_POLICY)
    config_map = "kubernetes/dev/solo/solo/configmap-settings.yaml"
    assert [(p["file"], p["path"]) for p in problems] == [
        (config_map, "immutable"),
        (config_map, "ConfigMap/settings"),
    ]
    assert str(problems[0]["message"]).endswith(": 'yes' is not of type 'boolean', 'null'")
    assert problems[1] == located(
        config_map,
        1,
        "ConfigMap/settings",
        "DENY [dev] baseline/ratio.*: evaluation failed: baseline/ratio.rego:6:35: divide by zero",
        "from examples/apps/solo/score.yaml",
        kind="policy",
    )
    assert not (project / "out").exists()


# ---- the commands ----------------------------------------------------------------------------


def test_env_and_all_envs_together(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("render", "--root", str(ROOT), "--env", "dev", "--all-envs", "--out", str(tmp_path / "o"))
    assert (result.exit_code, result.output) == (
        EXIT_USAGE,
        "error: --env and --all-envs exclude each other\n",
    )


def test_explain_an_unknown_workload(cli: Callable[..., Result]) -> None:
    args = ("explain", "--root", str(ROOT), "--app", "shop", "--workload", "nope", "--env", "dev")
    result = cli(*args)
    assert (result.exit_code, result.output) == (
        EXIT_USAGE,
        "error: no workload shop/nope (known: shop/api, shop/web, shop/worker)\n",
    )


def test_explain_reports_a_bug_as_internal_error(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only the unknown workload is a usage error: any other KeyError is a bug: exit 70, not 2."""

    def broken(*args: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(explain, "_node", broken)
    monkeypatch.setenv("RENDERER_TRACE_DIR", str(tmp_path))
    args = ("explain", "--root", str(ROOT), "--app", "shop", "--workload", "api", "--env", "dev")
    result = cli(*args)
    assert result.exit_code == EXIT_INTERNAL
    assert "internal error (KeyError)" in result.stderr
    (trace,) = tmp_path.iterdir()
    assert "KeyError: 'a bug'" in trace.read_text()


def test_policy_tests_that_fail_or_do_not_exist(tmp_path: Path, cli: Callable[..., Result]) -> None:
    rego = 'package main\nimport rego.v1\n\ndeny contains "x" if input.bad\n'
    write(tmp_path / "p" / "main.rego", rego)
    none = cli("policy", "test", str(tmp_path / "p"))
    assert (none.exit_code, none.stdout) == (0, "")  # opa test: no tests is success
    empty = cli("policy", "test", "--fail-on-empty", str(tmp_path / "p"))
    assert (empty.exit_code, empty.stderr) == (1, "no tests were run\n")
    write(
        tmp_path / "p" / "main_test.rego", "package main\nimport rego.v1\n\ntest_wrong if count(deny) == 1\n"
    )
    failed = cli("policy", "test", str(tmp_path / "p"))
    assert failed.exit_code == 2
    lines = failed.stdout.splitlines()
    assert lines[0] == f"{tmp_path}/p/main_test.rego:4:"
    assert lines[1].startswith("data.main.test_wrong: FAIL (")
    assert lines[2:] == ["-" * 80, "FAIL: 1/1"]


def test_render_refuses_to_write_through_a_symlink(
    project: Path, cli: Callable[..., Result], tmp_path: Path
) -> None:
    _setup(project)
    out, elsewhere = project / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "kubernetes").symlink_to(elsewhere, target_is_directory=True)
    result = _render(cli, project)
    assert (result.exit_code, result.output) == (
        EXIT_USAGE,
        "error: refusing to write outside the output directory: kubernetes/dev/_shared/"
        "clustersecretstore-aws-secrets-manager.yaml\n",
    )
    assert list(elsewhere.iterdir()) == []
