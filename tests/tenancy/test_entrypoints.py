"""The entry points under clusters/<env>/renderer/: one per scope present, `_shared` first, and
`kubectl kustomize` builds every path they name."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from renderer.render.kubernetes.entrypoints import SYNC_WAVE
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from renderer.cli import main

    out = tmp_path_factory.mktemp("entry") / "out"
    args = ["render", "--root", str(ROOT), "--out", str(out)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def _entries(out: Path, env: str) -> dict[str, dict[str, object]]:
    files = sorted((out / "clusters" / env / "renderer").rglob("*.yaml"))
    return {f.parent.name: yaml.safe_load(f.read_text()) for f in files}


def _path(entry: dict[str, object]) -> str:
    spec = entry["spec"]
    assert isinstance(spec, dict)
    if entry["kind"] == "Kustomization":
        return str(spec["path"]).removeprefix("./")
    return str(spec["source"]["path"])


def test_one_entry_per_scope_present(out: Path) -> None:
    for env in ("dev", "staging", "prod"):
        scopes = sorted(p.name for p in (out / "kubernetes" / env).iterdir() if p.is_dir())
        entries = _entries(out, env)
        assert sorted(entries) == scopes == ["_shared", "billing", "shop"]
        paths = {scope: _path(e) for scope, e in entries.items()}
        assert paths == {s: f"kubernetes/{env}/{s}" for s in scopes}


def test_flux_applies_shared_after_the_prerequisites_and_apps_after_shared(out: Path) -> None:
    entries = _entries(out, "dev")
    assert all(e["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1" for e in entries.values())
    shared = entries.pop("_shared")
    assert shared["spec"]["dependsOn"] == [{"name": "infra-controllers", "namespace": "flux-system"}]  # type: ignore[index]
    for entry in entries.values():
        assert entry["spec"]["dependsOn"] == [{"name": "shared-dev", "namespace": "flux-system"}]  # type: ignore[index]
        assert entry["spec"]["sourceRef"]["name"] == "flux-system"  # type: ignore[index]


def test_argo_cd_syncs_shared_in_an_earlier_wave(out: Path) -> None:
    entries = _entries(out, "prod")
    assert all(e["kind"] == "Application" for e in entries.values())
    waves = {scope: int(e["metadata"]["annotations"][SYNC_WAVE]) for scope, e in entries.items()}  # type: ignore[index]
    assert waves["_shared"] < min(w for s, w in waves.items() if s != "_shared")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_every_path_an_entry_point_names(out: Path) -> None:
    built = 0
    for env in ("dev", "staging", "prod"):
        for scope, entry in _entries(out, env).items():
            proc = subprocess.run(
                ["kubectl", "kustomize", str(out / _path(entry))], capture_output=True, text=True, timeout=120
            )
            assert proc.returncode == 0, (env, scope, proc.stderr)
            objects = [d for d in yaml.safe_load_all(proc.stdout) if d]
            files = [p for p in (out / _path(entry)).rglob("*.yaml") if p.name != "kustomization.yaml"]
            assert len(objects) == len(files) > 0
            built += 1
    assert built == 9


def test_an_app_render_gives_the_same_entry_points(
    out: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    one = tmp_path / "one"
    app = str(ROOT / "examples" / "apps" / "shop")
    assert cli("render", "--root", str(ROOT), "--app", app, "--out", str(one)).exit_code == 0
    for env in ("dev", "prod"):
        for scope in ("_shared", "shop"):
            folder = f"clusters/{env}/renderer/{scope}"
            (mine,) = (one / folder).iterdir()
            assert mine.read_bytes() == (out / folder / mine.name).read_bytes()
        assert not (one / f"clusters/{env}/renderer/billing").exists()
