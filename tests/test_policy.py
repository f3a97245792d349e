"""Policies: conftest conformance of our front end, the shipped baseline, and enforcement."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from renderer.checks.rego.engine import BATCH, PolicyLoadError, Regorus
from renderer.checks.rego.policyset import PolicySet, run_tests
from renderer.cli.policy import duration
from renderer.errors import EXIT_POLICY
from renderer.model import PolicySource as Source
from tests.conftest import ROOT, git, run_renderer, write

# A policy written for conftest: Rego v0, helper sets, every rule form, exceptions, and v0 tests
# that use `with`. The expected outcomes are what conftest documents for these rules.
CONFTEST_V0 = """package main

denylist = {"nginx:latest", "busybox"}

deny[msg] {
  input.kind == "Deployment"
  image := input.spec.template.spec.containers[_].image
  denylist[image]
  msg := sprintf("image %v is denied", [image])
}

deny_no_limits[msg] {
  input.kind == "Deployment"
  c := input.spec.template.spec.containers[_]
  not c.resources.limits
  msg := sprintf("container %v has no limits", [c.name])
}

violation[{"msg": msg, "details": {"field": "replicas"}}] {
  input.spec.replicas > 10
  msg := "too many replicas"
}

warn[msg] {
  not input.metadata.labels.team
  msg := "team label missing"
}

exception[rules] {
  input.metadata.name == "legacy"
  rules := ["no_limits"]
}
"""

CONFTEST_V0_TEST = """package main

test_denylisted_image {
  deny["image busybox is denied"] with input as {"kind": "Deployment", "metadata": {"name": "x"},
    "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "busybox"}]}}}}
}

test_allowed_image {
  count(deny) == 0 with input as {"kind": "Deployment", "metadata": {"name": "x"},
    "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "alpine:3"}]}}}}
}

test_deliberately_failing {
  count(deny) == 5 with input as {}
}
"""

V1_POLICY = """package team.rules
import rego.v1

deny contains msg if {
  input.kind == "Service"
  input.spec.type == "LoadBalancer"
  msg := "no load balancers"
}
"""


def deployment(name: str, image: str, limits: bool = True, replicas: int = 1, team: bool = True) -> dict:
    container = {"name": "app", "image": image}
    if limits:
        container["resources"] = {"limits": {"memory": "1Gi"}}
    labels = {"team": "a"} if team else {}
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [container]}}},
    }


def source(**files: str) -> Source:
    policies = {k: v for k, v in files.items() if not k.endswith("_test")}
    tests = {k: v for k, v in files.items() if k.endswith("_test")}
    return Source(policies, tests, {})


def test_conftest_v0_policy_counts() -> None:
    policies = PolicySet(source(main=CONFTEST_V0))
    results, counts = policies.check(
        "d.yaml", deployment("web", "busybox", limits=False, replicas=20, team=False)
    )
    kinds = sorted((r.rule, r.kind, r.message) for r in results)
    assert kinds == [
        ("deny", "failure", "image busybox is denied"),
        ("deny_no_limits", "failure", "container app has no limits"),
        ("violation", "failure", "too many replicas"),
        ("warn", "warning", "team label missing"),
    ]
    assert (counts.failures, counts.warnings, counts.exceptions, counts.successes) == (3, 1, 0, 0)
    violation = next(r for r in results if r.rule == "violation")
    assert violation.metadata == {"details": {"field": "replicas"}}


def test_conftest_exception_moves_a_failure() -> None:
    policies = PolicySet(source(main=CONFTEST_V0))
    results, counts = policies.check("d.yaml", deployment("legacy", "alpine:3", limits=False))
    assert [(r.rule, r.kind) for r in results] == [("deny_no_limits", "exception")]
    assert (counts.failures, counts.exceptions, counts.successes) == (0, 1, 3)


def test_clean_document_counts_successes() -> None:
    _, counts = PolicySet(source(main=CONFTEST_V0)).check("d.yaml", deployment("web", "alpine:3"))
    assert (counts.failures, counts.warnings, counts.successes) == (0, 0, 4)


def test_namespaces_and_both_rego_versions() -> None:
    svc = {"kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "LoadBalancer"}}
    everything = PolicySet(source(main=CONFTEST_V0, team=V1_POLICY))
    assert [r.namespace for r in everything.check("s.yaml", svc)[0]] == ["main", "team.rules"]
    only_main = PolicySet(source(main=CONFTEST_V0, team=V1_POLICY), namespaces=["main"])
    assert [r.namespace for r in only_main.check("s.yaml", svc)[0]] == ["main"]


def test_data_files_are_visible_as_data() -> None:
    rego = 'package main\nimport rego.v1\ndeny contains "blocked" if input.name in data.blocked.names\n'
    policies = PolicySet(Source({"p.rego": rego}, {}, {"blocked": {"names": ["x"]}}))
    assert [r.message for r in policies.check("a", {"name": "x"})[0]] == ["blocked"]
    assert policies.check("a", {"name": "y"})[0] == []


def test_combined_mode_sees_every_document() -> None:
    rego = (
        "package combined.names\nimport rego.v1\n"
        'deny contains sprintf("duplicate name %s", [n]) if {\n'
        "  some i, j; input[i].contents.name == input[j].contents.name\n"
        "  i < j; n := input[i].contents.name }\n"
    )
    policies = PolicySet(source(c=rego))
    results, _ = policies.check_combined([("a", {"name": "x"}), ("b", {"name": "x"}), ("c", {"name": "y"})])
    assert [r.message for r in results] == ["duplicate name x"]


def test_combined_package_is_asked_for_its_reported_rules_only() -> None:
    """Only the deny, violation, warn and exception rules' values come out (a helper that gathers
    every document is not copied out), with the counts and exceptions of the whole package; a
    package with none of those rules is not evaluated, and an error in any helper still fails
    its package."""
    rego = (
        "package combined.names\nimport rego.v1\n"
        "everything contains doc if some doc in input\n"
        'deny_duplicate contains sprintf("duplicate name %s", [n]) if {\n'
        "  some i, j; input[i].contents.name == input[j].contents.name\n"
        "  i < j; n := input[i].contents.name }\n"
        'deny_empty contains "empty" if count(input) == 0\n'
        'warn_many contains "many" if count(everything) > 2\n'
        'exception contains ["empty"] if true\n'
    )
    helpers_only = "package combined.helpers\nimport rego.v1\nbroken := x if x := count(input) / 0\n"
    policies = PolicySet(source(c=rego, h=helpers_only))
    docs = [("a", {"name": "x"}), ("b", {"name": "x"}), ("c", {"name": "y"})]
    results, counts = policies.check_combined(docs)
    assert [(r.namespace, r.rule, r.kind, r.message) for r in results] == [
        ("combined.names", "deny_duplicate", "failure", "duplicate name x"),
        ("combined.names", "warn_many", "warning", "many"),
    ]
    assert (counts.failures, counts.warnings, counts.exceptions, counts.successes) == (1, 1, 0, 1)
    results, counts = policies.check_combined([])
    assert [(r.rule, r.kind) for r in results] == [("deny_empty", "exception")]
    assert (counts.failures, counts.warnings, counts.exceptions, counts.successes) == (0, 0, 1, 2)
    # every object of the environment is the input: the engine lets go of it once the rules ran
    assert policies.engine.query("input").value == {}
    broken = rego + "broken := x if x := count(input) / 0\n"
    results, counts = PolicySet(source(c=broken)).check_combined(docs)
    assert [(r.namespace, r.rule, r.kind) for r in results] == [("combined.names", "*", "failure")]
    assert counts.failures == 1


def test_a_package_no_query_can_reach_is_refused_at_load() -> None:
    """regorus names `package combined["a.b"]` data.combined.a.b, a path that reaches nothing: its
    rules would silently never run (fail open). A quoted part that is a plain name is fine."""
    rule = '\nimport rego.v1\ndeny contains "x" if true\n'
    with pytest.raises(PolicyLoadError, match='the package part "a.b" is not a plain name'):
        PolicySet(source(c='# about it\npackage combined["a.b"]' + rule))
    for clause in ('package combined[\n  "a.b"\n]', 'package combined[ # a comment\n"a.b"]'):
        with pytest.raises(PolicyLoadError, match='the package part "a.b"'):
            PolicySet(source(c=clause + rule))
    with pytest.raises(PolicyLoadError, match='the package part "\\\\u0062"'):  # named literally
        PolicySet(source(c='package combined["\\u0062"]' + rule))
    # the clause ends where the ref does: what follows on its line is the next statement
    assert PolicySet(source(c='package combined.x deny contains "a.b" if true\n')).combined == [
        "data.combined.x"
    ]
    policies = PolicySet(source(c='package combined["ab"] # "a.b" in a comment' + rule))
    assert policies.combined == ["data.combined.ab"]
    assert [r.message for r in policies.check_combined([("a", {})])[0]] == ["x"]


def test_an_input_the_engine_refuses_fails_its_document_not_the_run() -> None:
    """regorus takes no NaN (the readers refuse one; this is the engine's own guard): the document
    that holds one fails every package, alone or in a batch, and the others are checked."""
    policies = PolicySet(source(main=CONFTEST_V0))
    odd = {**deployment("web", "busybox"), "x": float("nan")}
    results, _ = policies.check("odd.yaml", odd)
    assert [(r.rule, r.kind) for r in results] == [("*", "failure")]
    each = policies.check_each([("ok.yaml", deployment("ok", "alpine:3")), ("odd.yaml", odd)])
    assert [[(r.rule, r.path) for r in found] for found, _ in each] == [[], [("*", "odd.yaml")]]
    combined = PolicySet(source(c="package combined.x\nimport rego.v1\ndeny contains 1 if false\n"))
    results, _ = combined.check_combined([("odd.yaml", odd)])
    assert [(r.namespace, r.rule) for r in results] == [("combined.x", "*")]


def test_package_that_fails_to_evaluate_is_a_failure_beside_the_others() -> None:
    """One package erroring on a document stops neither the document's other packages nor the run."""
    broken = "package broken\nimport rego.v1\ndeny contains msg if {\n  msg := input.spec.replicas / 0\n}\n"
    policies = PolicySet(source(**{"broken.rego": broken}, main=CONFTEST_V0))
    results, counts = policies.check("d.yaml", deployment("web", "busybox"))
    assert [(r.namespace, r.rule, r.kind, r.message, r.path) for r in results] == [
        ("broken", "*", "failure", "evaluation failed: broken.rego:4:30: divide by zero", "d.yaml"),
        ("main", "deny", "failure", "image busybox is denied", "d.yaml"),
    ]
    assert (counts.failures, counts.successes) == (2, 3)


def test_documents_checked_in_batches_give_what_one_at_a_time_gives() -> None:
    """`check_each` evaluates a package over many documents in one query; results, counts and
    evaluation errors (one document's error must not spill onto its batch) are `check`'s, in order,
    across more documents than one batch holds."""
    broken = (
        "package broken\nimport rego.v1\n"
        'deny contains msg if {\n  input.metadata.name == "odd"\n  msg := input.spec.replicas / 0\n}\n'
    )
    v1 = (
        "package team\nimport rego.v1\n"
        'warn contains sprintf("big %d", [input.spec.replicas]) if input.spec.replicas > 7\n'
    )
    policies = PolicySet(source(**{"broken.rego": broken}, main=CONFTEST_V0, team=V1_POLICY, v1=v1))
    images = ["alpine:3", "busybox", "nginx:latest"]
    documents = [
        (
            f"d{i}.yaml",
            deployment(
                "odd" if i % 97 == 5 else ("legacy" if i % 13 == 0 else f"w{i}"),
                images[i % 3],
                limits=i % 4 != 0,
                replicas=i % 12,
                team=i % 5 != 0,
            ),
        )
        for i in range(2 * BATCH + 7)
    ]
    documents.append(("notes.txt", "not an object"))
    batched = policies.check_each(documents)
    assert batched == [policies.check(path, doc) for path, doc in documents]
    messages = {r.message for results, _ in batched for r in results}
    assert "evaluation failed: broken.rego:5:30: divide by zero" in messages and "big 11" in messages
    odd = [i for i in range(2 * BATCH + 7) if i % 97 == 5]
    assert [i for i, (results, _) in enumerate(batched) if any(r.rule == "*" for r in results)] == odd


def test_v0_unit_tests_with_with() -> None:
    results = run_tests(source(main=CONFTEST_V0, main_test=CONFTEST_V0_TEST))
    assert [(r.name, r.outcome) for r in results] == [
        ("test_denylisted_image", "PASS"),
        ("test_allowed_image", "PASS"),
        ("test_deliberately_failing", "FAIL"),
    ]


def test_bad_rego_is_a_clear_error() -> None:
    with pytest.raises(PolicyLoadError, match=r"broken.rego: not valid Rego"):
        PolicySet(source(**{"broken.rego": "package x\ndeny[msg] { msg := }\n"}))


def test_known_regorus_divergence_json_remove_with_pointer() -> None:
    """OPA removes "/a" (a JSON pointer); regorus 0.13 does not. Our policies use json.patch."""
    engine = Regorus()
    engine.add_policy("x.rego", 'package x\nimport rego.v1\nr := json.remove({"a": 1, "b": 2}, ["/a"])\n')
    assert engine.evaluate("data.x.r", {}) == {"a": 1, "b": 2}


def test_shipped_policy_unit_tests_pass(cli: Callable[..., Result]) -> None:
    result = cli("policy", "test", "-v", "--root", str(ROOT))
    assert result.exit_code == 0, result.output
    (passed, total) = map(int, re.search(r"^PASS: (\d+)/(\d+)$", result.stdout, re.M).groups())
    assert passed == total >= 25
    assert len(re.findall(r"^data\.[\w.]+\.test_\w+: PASS \(", result.stdout, re.M)) == total


def test_failing_policy_tests_exit_2_as_opa_test(tmp_path: Path, cli: Callable[..., Result]) -> None:
    write(tmp_path / "p" / "main.rego", CONFTEST_V0)
    write(tmp_path / "p" / "main_test.rego", CONFTEST_V0_TEST)
    result = cli("policy", "test", str(tmp_path / "p"))
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0] == f"{tmp_path}/p/main_test.rego:13:"
    assert re.fullmatch(r"data\.main\.test_deliberately_failing: FAIL \([0-9.]+(ns|µs|ms)\)", lines[1])
    assert lines[2:] == ["-" * 80, "PASS: 2/3", "FAIL: 1/3"]


# ---- the test runner against OPA's documented semantics: one folder per case ----------------

RUNNER_CASES = Path(__file__).parent / "policy_runner"


def _outcome(item: dict) -> str:
    flags = [name for name, key in (("ERROR", "error"), ("FAIL", "fail"), ("SKIPPED", "skip")) if key in item]
    return flags[0] if flags else "PASS"


@pytest.mark.parametrize("case", sorted(p.name for p in RUNNER_CASES.iterdir() if p.is_dir()))
def test_policy_runner_case(case: str, cli: Callable[..., Result]) -> None:
    """tests/policy_runner/<case>/: Rego and data under p/, and case.yaml: `args` before the path,
    the `exit` code, and what to see: `results` (name → outcome) and `json` (the items, duration
    aside) from --format json; `stdout`/`stderr` (whole), `stdout_has`/`stderr_has` (lines within)
    and `stdout_like` (whole, TIME for any duration) from the text report. {dir} is the case folder."""
    folder = RUNNER_CASES / case
    spec = yaml.safe_load((folder / "case.yaml").read_text().replace("{dir}", str(folder)))
    args = ["policy", "test", *spec.get("args", []), str(folder / "p")]
    text = cli(*args)
    assert text.exit_code == spec["exit"], text.output
    if "stdout" in spec:
        assert text.stdout == spec["stdout"]
    if "stderr" in spec:
        assert text.stderr == spec["stderr"]
    for line in spec.get("stdout_has", []):
        assert line in text.stdout, text.stdout
    for line in spec.get("stderr_has", []):
        assert line in text.stderr, text.stderr
    if "stdout_like" in spec:
        pattern = re.escape(spec["stdout_like"]).replace("TIME", r"[0-9.]+(ns|µs|ms|s)")
        assert re.fullmatch(pattern, text.stdout), text.stdout
    if "results" in spec or "json" in spec:
        answer = cli(*args, "--format", "json")
        assert answer.exit_code == spec["exit"], answer.output
        items = json.loads(answer.stdout)
        assert all(isinstance(item.pop("duration"), int) for item in items)
        if "results" in spec:
            assert {f"{i['package']}.{i['name']}": _outcome(i) for i in items} == spec["results"]
        if "json" in spec:
            assert items == spec["json"]


def test_durations_print_as_go_does() -> None:
    assert [duration(n) for n in (850, 1000, 1417, 426_000, 2_500_000, 1_200_000_000, 61_000_000_000)] == [
        "850ns",
        "1µs",
        "1.417µs",
        "426µs",
        "2.5ms",
        "1.2s",
        "61s",
    ]


# ---- enforcement on the shipped baseline: each rule denied in production ---------------------


def _edit(project: Path, rel: str, old: str, new: str) -> None:
    path = project / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1))


API = "examples/apps/shop/score.yaml"
PROD_API = "examples/apps/shop/overrides/prod/api.yaml"  # sets prod's ECR image over score.yaml's


def _image_break(project: Path, old: str, new: str) -> None:
    """Break the api container's image in score.yaml, and let prod use it (drop prod's ECR image)."""
    ecr = "333333333333.dkr.ecr.eu-central-1.amazonaws.com"
    _edit(project, PROD_API, f"    image: {ecr}/shop/api:1.14.2\n", "")
    _edit(project, API, old, new)


PROD_PROFILE = "platform-config/profiles/production.yaml"
BREAKS = {
    "deny_registry": lambda p: _image_break(
        p, "image: registry.example.com/shop/api:1.14.2", "image: quay.io/shop/api:1.14.2"
    ),
    "deny_latest_tag": lambda p: _image_break(
        p, "shop/api:1.14.2\n    command", "shop/api:latest\n    command"
    ),
    "deny_untagged": lambda p: _image_break(p, "shop/api:1.14.2\n    command", "shop/api\n    command"),
    "deny_literal_secret": lambda p: _edit(
        p, API, "REDIS_PASSWORD: ${resources.cache.password}", "REDIS_PASSWORD: hunter2"
    ),
    "deny_plaintext_secret_env": lambda p: _edit(
        p, API, "REDIS_PASSWORD: ${resources.cache.password}", "REDIS_PASSWORD: hunter2"
    ),
    "deny_privileged": lambda p: _edit(
        p,
        PROD_PROFILE,
        "  allowPrivilegeEscalation: false\n",
        "  allowPrivilegeEscalation: false\n  privileged: true\n",
    ),
    "deny_privilege_escalation": lambda p: _edit(p, PROD_PROFILE, "  allowPrivilegeEscalation: false\n", ""),
    "deny_run_as_root": lambda p: _edit(p, PROD_PROFILE, "  runAsNonRoot: true\n", ""),
    "deny_host_namespaces": lambda p: _edit(
        p,
        PROD_PROFILE,
        "        revisionHistoryLimit: 5\n",
        "        revisionHistoryLimit: 5\n        template: {spec: {hostNetwork: true}}\n",
    ),
    "deny_host_path": lambda p: _edit(
        p,
        "platform-config/resources/volume.yaml",
        "    emptyDir: {sizeLimit: 1Gi}",
        "    hostPath: {path: /var/tmp}",
    ),
    "deny_missing_memory_limit": lambda p: (
        _edit(p, PROD_PROFILE, "  limits: {memory: 1Gi}\n", ""),
        _edit(p, API, "        memory: 512Mi\n", ""),
    ),
    "deny_single_replica": lambda p: _edit(p, PROD_PROFILE, "replicas: 3", "replicas: 1"),
    "deny_missing_disruption_budget": lambda p: _edit(
        p, PROD_PROFILE, "disruption_budget:\n  max_unavailable: 1\n", ""
    ),
    "deny_unencrypted_database": lambda p: _edit(
        p,
        "platform-config/modules/rds-instance/main.tf.json",
        '"storage_encrypted": true',
        '"storage_encrypted": false',
    ),
    "deny_public_bucket": lambda p: _edit(
        p,
        "platform-config/modules/s3-bucket/main.tf.json",
        '"block_public_policy": true',
        '"block_public_policy": false',
    ),
}


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_each_baseline_rule_denies_in_production(
    rule: str, project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    BREAKS[rule](project)
    out = tmp_path / "out"
    result = cli("render", "--root", str(project), "--env", "prod", "--out", str(out))
    assert result.exit_code == EXIT_POLICY, result.output
    lines = [line for line in result.output.splitlines() if f".{rule}: " in line]
    assert lines, result.output
    assert ": DENY [prod] " in lines[0]
    assert lines[0].startswith(
        ("policy: kubernetes/prod/", "policy: examples/apps/", "policy: terraform/")
    ), lines[0]
    assert not out.exists()  # nothing written


def test_denial_report_names_object_file_and_source(
    project: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    BREAKS["deny_latest_tag"](project)
    result = cli("render", "--root", str(project), "--env", "prod", "--out", str(tmp_path / "o"))
    line = next(x for x in result.output.splitlines() if ".deny_latest_tag: " in x)
    assert line == (
        "policy: kubernetes/prod/shop/api/deployment-api.yaml:1 at Deployment/api: DENY [prod] "
        "baseline/kubernetes.deny_latest_tag: Deployment/api: image registry.example.com/shop/api:latest "
        "uses :latest (from examples/apps/shop/score.yaml)"
    )


def test_dev_only_warns(project: Path, tmp_path: Path, cli: Callable[..., Result]) -> None:
    BREAKS["deny_latest_tag"](project)
    result = cli("render", "--root", str(project), "--env", "dev", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0
    assert "WARN [dev] baseline/kubernetes.deny_latest_tag" in result.output


def test_denied_publish_reaches_nothing(project: Path, bare_repo: Path) -> None:
    BREAKS["deny_literal_secret"](project)
    result = run_renderer(
        "publish",
        "--root",
        str(project),
        "--env-repo",
        str(bare_repo),
        "--app",
        str(project / "examples/apps/shop"),
        "--env",
        "prod",
        "--format",
        "json",
    )
    assert result.returncode == EXIT_POLICY
    report = json.loads(result.stdout)
    assert report["error"] == "PolicyDenied"
    assert any(
        "deny_literal_secret" in p["message"] and p["file"] == "examples/apps/shop/score.yaml"
        for p in report["problems"]
    )
    assert "hunter2" not in result.stdout + result.stderr  # the report names, never repeats, a secret
    assert git("--git-dir", str(bare_repo), "for-each-ref") == ""


def test_an_error_of_ours_while_a_policy_parses_is_not_taken_for_a_parse_error() -> None:
    """A signal turned into an error (`Interrupted`) while regorus parsed is raised as it is: not
    reported as invalid Rego, which would hide the interruption behind exit 3."""
    from renderer.errors import PublishError

    class Parsing:
        def set_rego_v0(self, v0: bool) -> None:
            pass

        def add_policy(self, name: str, text: str) -> str:
            raise PublishError("interrupted by SIGTERM: nothing was published")

    engine = Regorus()
    engine._engine = Parsing()
    with pytest.raises(PublishError, match="interrupted by SIGTERM"):
        engine.add_policy("p.rego", "package p")
