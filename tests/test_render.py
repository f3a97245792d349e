"""The rendered tree: goldens, byte-determinism across processes, kustomize, schemas, Terraform."""

from __future__ import annotations

import filecmp
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from renderer import pipeline
from renderer.checks import kubeschema
from renderer.data import Json
from renderer.errors import InputError, Problem
from renderer.inputs import app_repo, platform_config
from renderer.inputs import roots as settings
from renderer.resolve import graph as graphs
from tests.conftest import ROOT, run_renderer

CASES = ROOT / "tests" / "cases"
# Score schema cases (test_score.py, test_spec.py) and hostile app repos (test_hostile.py)
NOT_GOLDEN = {"score", "score-public", "hostile"}


def _tree_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "case", sorted(p.name for p in CASES.iterdir() if p.is_dir() and p.name not in NOT_GOLDEN)
)
def test_golden(case: str, tmp_path: Path, cli: Callable[..., Result], update_goldens: bool) -> None:
    """tests/cases/<case>/ holds `args` (render arguments) and `expected/` (the tree)."""
    folder = CASES / case
    args = (folder / "args").read_text().split()
    out = tmp_path / "out"
    result = cli("render", "--root", str(ROOT), *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    expected = folder / "expected"
    if update_goldens:
        shutil.rmtree(expected, ignore_errors=True)
        shutil.copytree(out, expected)
    got, want = _tree_files(out), _tree_files(expected)
    assert sorted(got) == sorted(want), "file set differs; run pytest --update-goldens and review"
    changed = [p for p in got if got[p] != want[p]]
    assert not changed, f"bytes differ in {changed[:5]}; run pytest --update-goldens and review"


def test_identical_bytes_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    outs = []
    for seed in ("0", "4242"):
        out = tmp_path / f"out-{seed}"
        proc = run_renderer("render", "--root", str(ROOT), "--out", str(out), env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        outs.append(out)
    cmp = filecmp.dircmp(outs[0], outs[1])
    assert _tree_files(outs[0]) == _tree_files(outs[1]), cmp.report()


def test_render_replaces_owned_paths_and_keeps_others(tmp_path: Path, cli: Callable[..., Result]) -> None:
    out = tmp_path / "out"
    (out / "kubernetes/dev/shop/stale").mkdir(parents=True)
    (out / "kubernetes/dev/shop/stale/old.yaml").write_text("stale")
    (out / "README.md").write_text("not ours")
    (out / "kubernetes/qa").mkdir(parents=True)
    (out / "kubernetes/qa/keep.yaml").write_text("other env")
    assert cli("render", "--root", str(ROOT), "--env", "dev", "--out", str(out)).exit_code == 0
    assert not (out / "kubernetes/dev/shop/stale").exists()
    assert (out / "README.md").read_text() == "not ours"
    assert (out / "kubernetes/qa/keep.yaml").exists()
    second = cli("render", "--root", str(ROOT), "--env", "dev", "--out", str(out), "--format", "json")
    assert json.loads(second.output)["written"] == 0


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_every_environment(tmp_path: Path, cli: Callable[..., Result]) -> None:
    out = tmp_path / "out"
    assert cli("render", "--root", str(ROOT), "--out", str(out)).exit_code == 0
    for env in ("dev", "staging", "prod"):
        proc = subprocess.run(
            ["kubectl", "kustomize", str(out / "kubernetes" / env)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        objects = [d for d in yaml.safe_load_all(proc.stdout) if d]
        files = [p for p in (out / "kubernetes" / env).rglob("*.yaml") if p.name != "kustomization.yaml"]
        assert len(objects) == len(files)


def test_every_object_checked_against_the_kubernetes_schema() -> None:
    inputs = settings.load(str(ROOT), [])
    rendered = pipeline.run(inputs.platform, inputs.apps, None, pipeline.Options())
    versions = {e.id: e.kubernetes_version for e in inputs.platform.environments.values()}
    documents = {p: d for e in rendered.envs for p, d in e.documents.items()}
    report = kubeschema.check_documents(documents, versions, inputs.platform.apis)
    assert report.problems == []
    assert report.checked > 140
    # custom resources are checked against their CRDs' schemas (tests/k8s/test_apis.py): none left over
    assert report.unchecked == {}


def test_schema_violation_is_reported_with_file() -> None:
    documents: dict[str, Json] = {
        "kubernetes/dev/a/b/deployment-x.yaml": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "x"},
            "spec": {"replicas": "many"},
        }
    }
    report = kubeschema.check_documents(documents, {"dev": "1.30"})
    assert [(p.file, p.path) for p in report.problems] == [
        ("kubernetes/dev/a/b/deployment-x.yaml", "spec"),  # selector and template are required
        ("kubernetes/dev/a/b/deployment-x.yaml", "spec.replicas"),
    ]
    assert report.problems[1].message == (
        "apps/v1/Deployment is not valid for Kubernetes 1.30.0: 'many' is not of type 'integer', 'null'"
    )


def test_workload_shape(tmp_path: Path, cli: Callable[..., Result]) -> None:
    out = tmp_path / "out"
    assert cli("render", "--root", str(ROOT), "--out", str(out)).exit_code == 0
    prod = out / "kubernetes/prod/shop/api"
    deploy = yaml.safe_load((prod / "deployment-api.yaml").read_text())
    pod = deploy["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    # a whole-value secret is a secretKeyRef; an embedded one a $(helper) defined earlier
    assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "api-secrets",
        "key": "api-db.password",
    }
    url = env["DATABASE_URL"]["value"]
    helper = url.split("$(")[1].split(")")[0]
    names = [e["name"] for e in pod["containers"][0]["env"]]
    assert names.index(helper) < names.index("DATABASE_URL")
    assert env["PRICE_FORMAT"]["value"] == "$%.2f"  # $$ escape
    assert "--literal=$$(NOT_EXPANDED)" in pod["containers"][0]["args"]  # kubelet sees it literal
    assert pod["initContainers"][0]["name"] == "migrate"
    assert deploy["spec"]["replicas"] == 3
    assert (prod / "poddisruptionbudget-api.yaml").exists()
    secret = yaml.safe_load((prod / "externalsecret-api.yaml").read_text())
    assert {"key": "platform/prod/shop/api/db", "property": "password"} in [
        d["remoteRef"] for d in secret["spec"]["data"]
    ]
    web = yaml.safe_load((out / "kubernetes/dev/shop/web/deployment-web.yaml").read_text())
    sidecar = web["spec"]["template"]["spec"]["initContainers"][0]
    assert sidecar["restartPolicy"] == "Always" and "startupProbe" in sidecar
    ledger = yaml.safe_load((out / "kubernetes/dev/billing/ledger/statefulset-ledger.yaml").read_text())
    vols = ledger["spec"]["template"]["spec"]["volumes"]
    assert [v["name"] for v in vols] == ["vol-journal"]  # one volume, mounted twice
    cm = yaml.safe_load((out / "kubernetes/dev/shop/api/configmap-api-files.yaml").read_text())
    assert any("${not expanded: noExpand}" in v for v in cm["data"].values())
    assert "SGVsbG8sIHNob3AhCg==" in cm["binaryData"].values()
    tf = json.loads((out / "terraform/prod/shop/main.tf.json").read_text())
    assert tf["terraform"]["backend"]["s3"]["use_lockfile"] is True
    assert tf["module"]["api_db"]["source"] == "../modules/postgres-database"
    atlantis = yaml.safe_load((out / "atlantis.yaml").read_text())
    prod_projects = [p for p in atlantis["projects"] if p["name"].startswith("prod-")]
    assert all(p["apply_requirements"] == ["approved", "mergeable", "undiverged"] for p in prod_projects)


def test_overrides_apply_per_environment(tmp_path: Path, cli: Callable[..., Result]) -> None:
    out = tmp_path / "out"
    assert cli("render", "--root", str(ROOT), "--out", str(out)).exit_code == 0

    def pool(env: str) -> str:
        d = yaml.safe_load((out / f"kubernetes/{env}/shop/api/deployment-api.yaml").read_text())
        return next(
            e["value"]
            for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
            if e["name"] == "POOL_SIZE"
        )

    assert (pool("dev"), pool("prod")) == ("10", "40")


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_accepts_every_rendered_project(tmp_path: Path, cli: Callable[..., Result]) -> None:
    """`terraform init -backend=false` parses every project and its local modules first; then it
    downloads providers. Offline, a failure may only be that download, never the configuration."""
    out = tmp_path / "out"
    assert cli("render", "--root", str(ROOT), "--out", str(out)).exit_code == 0
    envvars = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "NO_COLOR": "1"}
    projects = sorted(p.parent for p in (out / "terraform").rglob("main.tf.json") if "modules" not in p.parts)
    assert len(projects) == 8
    downloaded = True
    for project in projects:
        init = subprocess.run(
            ["terraform", "init", "-backend=false", "-input=false", "-no-color"],
            cwd=project,
            capture_output=True,
            text=True,
            env=envvars,
            timeout=300,
        )
        if init.returncode != 0:
            assert (
                "Failed to query available provider packages" in init.stderr
                or "could not connect to registry" in init.stderr.lower()
            ), init.stderr
            assert "on main.tf.json" not in init.stderr and "Invalid" not in init.stderr
            downloaded = False
            continue
        check = subprocess.run(
            ["terraform", "validate", "-json"],
            cwd=project,
            capture_output=True,
            text=True,
            env=envvars,
            timeout=300,
        )
        assert json.loads(check.stdout)["valid"] is True, check.stdout
    if not downloaded:
        pytest.skip("configuration parsed; `terraform validate` needs providers from the registry")


@pytest.mark.parametrize("start", ["fork", "pickled"])
def test_parallel_render_is_byte_identical_and_keeps_errors(
    project: Path, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    """Workers give the render one process gives, whether they inherit the platform and the apps
    (forked) or receive them pickled (any other start method, Python 3.14's default among them)."""
    monkeypatch.setattr(pipeline, "IN_PROCESS_BELOW", 0)  # workers even for the few examples
    if start == "pickled":
        monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "forkserver")
    platform = platform_config.load_platform(str(ROOT))
    apps = app_repo.load_apps(app_repo.example_app_dirs(str(ROOT)), str(ROOT))
    serial = pipeline.run(platform, apps, None, pipeline.Options(jobs=1))
    parallel = pipeline.run(platform, apps, None, pipeline.Options(jobs=3))
    assert serial.tree == parallel.tree
    report_serial, report_parallel = serial.report, parallel.report
    assert report_serial.findings == report_parallel.findings
    assert report_serial.schema.checked == report_parallel.schema.checked
    assert pipeline._INHERITED is None  # the pool's inputs are not held once it is done
    bad = project / "examples/apps/shop/score.yaml"
    bad.write_text(bad.read_text().replace("${resources.db.port}", "${resources.db.nope}"))
    broken = app_repo.load_apps(app_repo.example_app_dirs(str(project)), str(project))
    with pytest.raises(InputError) as err:
        pipeline.run(platform, broken, None, pipeline.Options(jobs=3))
    envs = {p.message.split("(")[0] for p in err.value.problems()}
    assert len(err.value.problems()) == 3 and len(envs) == 1  # the same problem, once per environment


def test_a_render_leaves_the_start_method_to_whoever_embeds_the_renderer() -> None:
    """Deciding whether to fork workers does not fix the process's start method."""
    probe = (
        "import multiprocessing\n"
        "from renderer import pipeline\n"
        "from renderer.inputs import app_repo, platform_config\n"
        f"root = {str(ROOT)!r}\n"
        "platform = platform_config.load_platform(root)\n"
        "apps = app_repo.load_apps(app_repo.example_app_dirs(root), root)\n"
        "pipeline.run(platform, apps, ['dev'], pipeline.Options(jobs=2, skip_checks_for_tests=True))\n"
        "print(multiprocessing.get_start_method(allow_none=True))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None"


def test_a_lean_render_checks_all_the_same() -> None:
    """A publish reads the files, the graph's shared nodes and the dependencies: each environment
    drops its parsed objects, resolved resources, apps' own nodes and catalog data once checked,
    and what a publish records from the graph comes out the same."""
    platform = platform_config.load_platform(str(ROOT))
    apps = app_repo.load_apps(app_repo.example_app_dirs(str(ROOT)), str(ROOT))
    kept = pipeline.run(platform, apps, ["dev", "prod"], pipeline.Options())
    dropped = pipeline.run(platform, apps, ["dev", "prod"], pipeline.Options(lean=True))
    assert kept.tree == dropped.tree and kept.report.findings == dropped.report.findings
    assert kept.report.counts == dropped.report.counts
    assert kept.report.schema.checked == dropped.report.schema.checked
    assert all(env.documents for env in kept.envs) and not any(env.documents for env in dropped.envs)
    assert not any(env.analysis.workloads or env.analysis.resolved for env in dropped.envs)
    assert [e.dependencies for e in kept.envs] == [e.dependencies for e in dropped.envs]
    # what each app's render reads, from the whole graph before it is lean (a publish records it):
    # billing's own database in prod uses the shared instance
    assert [graphs.shared_read_by_app(e.analysis.graph) for e in kept.envs] == [e.reads for e in dropped.envs]
    assert dropped.envs[1].reads["billing"] == ["postgres-instance.default#shared"]
    # a publish of billing records billing's alone: the same entry, worked out for it alone
    one = pipeline.run(
        platform, apps, ["dev", "prod"], pipeline.Options(lean=True, recorded=frozenset({"billing"}))
    )
    assert [e.reads for e in one.envs] == [
        {k: v for k, v in e.reads.items() if k == "billing"} for e in dropped.envs
    ]
    assert one.envs[1].reads
    assert all(env.catalog for env in kept.envs) and not any(env.catalog for env in dropped.envs)
    for whole, lean in zip(kept.envs, dropped.envs, strict=True):
        shared = {uid: node for uid, node in whole.analysis.graph.nodes.items() if node.shared}
        assert shared and len(shared) < len(whole.analysis.graph.nodes)
        assert lean.analysis.graph.nodes == shared
        assert lean.analysis.graph.order == tuple(u for u in whole.analysis.graph.order if u in shared)
        owners = {uid: "shop" for uid in shared}
        assert graphs.foreign_requests(lean.analysis.graph.nodes, owners) == graphs.foreign_requests(
            whole.analysis.graph.nodes, owners
        )


def test_render_reports_what_the_schema_did_not_check(tmp_path: Path, cli: Callable[..., Result]) -> None:
    result = cli("render", "--root", str(ROOT), "--env", "dev", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if "against the Kubernetes schema" in x)
    assert line == (
        "80 objects valid against the Kubernetes schema and CRD schemas "
        "(Kubernetes 1.37.0, external-secrets 2.9.0, flux-kustomize-controller 1.9.4, strimzi 1.2.0)"
    )


def test_every_schema_error_of_an_object_is_reported() -> None:
    documents: dict[str, Json] = {
        "kubernetes/dev/a/b/deployment-x.yaml": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"a": 1}},
            "spec": {"replicas": "many", "paused": "no"},
        }
    }
    report = kubeschema.check_documents(documents, {"dev": "1.30"})
    assert [p.path for p in report.problems] == ["metadata.labels.a", "spec", "spec.paused", "spec.replicas"]
    assert report.checked == 0


def test_a_platform_is_checked_once_a_process_and_its_policies_once_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A publish's later delivery groups render the platform the first one checked: its templates,
    alerts and policies are not checked again. A check that left the policies out (unit tests)
    does not stand for one with them, and a platform that failed is checked again."""
    from renderer.checks import findings

    platform = platform_config.load_platform(str(ROOT))
    apps = app_repo.load_apps(app_repo.example_app_dirs(str(ROOT)), str(ROOT))[:1]
    compiled: list[object] = []
    real = findings.compile_policies
    monkeypatch.setattr(findings, "compile_policies", lambda p: compiled.append(p) or real(p))
    monkeypatch.setattr(pipeline, "_SOUND", None)
    unchecked = pipeline.Options(skip_checks_for_tests=True)
    pipeline.run(platform, apps, ["dev"], unchecked)
    assert compiled == []
    pipeline.run(platform, apps, ["dev"], pipeline.Options())
    pipeline.run(platform, apps, ["dev"], pipeline.Options())
    pipeline.run(platform, apps, ["dev"], unchecked)
    assert compiled == [platform]
    other = platform_config.load_platform(str(ROOT))  # equal, not the same: checked on its own
    pipeline.run(other, apps, ["dev"], pipeline.Options())
    assert compiled == [platform, other]
    monkeypatch.setattr(findings, "compile_policies", lambda p: [Problem("p", 0, "", "bad", "fix")])
    with pytest.raises(InputError):
        pipeline.run(platform, apps, ["dev"], pipeline.Options())  # `other` was checked last
    with pytest.raises(InputError):
        pipeline.run(platform, apps, ["dev"], pipeline.Options())
