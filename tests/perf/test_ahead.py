"""A protected environment rendered ahead: in the direct group's worker pool, taken by its own
group only for the very same inputs (renderer/pipeline.py `_taken`, publish/delivery.py `_ahead`)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from renderer import pipeline
from renderer.errors import InputError
from renderer.inputs import app_repo, platform_config, roots
from renderer.model import App, Environment, Platform
from renderer.publish import delivery
from tests.conftest import ROOT, git, init_bare

_RENDER = pipeline._one_env
_LOG: list[object] = []  # where `_logged` appends, and the main pid: set before workers fork


def _logged(platform: Platform, apps: tuple[App, ...], env: Environment, options: pipeline.Options) -> object:
    with open(str(_LOG[0]), "a") as out:
        out.write(f"{env.id} {'worker' if os.getpid() != _LOG[1] else 'main'}\n")
    return _RENDER(platform, apps, env, options)


def _dies_on_prod(
    platform: Platform, apps: tuple[App, ...], env: Environment, options: pipeline.Options
) -> object:
    if env.id == "prod" and os.getpid() != _LOG[1]:
        os._exit(9)  # a worker killed mid-render, as for its memory
    return _logged(platform, apps, env, options)


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Counter[str]]:
    """Every environment render, in this process or a worker's (forked: the patch is inherited),
    appended to a file; the function returns how many each environment had."""
    log = tmp_path / "renders.log"
    log.touch()
    monkeypatch.setattr(pipeline, "_one_env", _logged)
    monkeypatch.setattr(pipeline, "IN_PROCESS_BELOW", 0)  # workers even for the examples
    _LOG[:] = [log, os.getpid()]
    return lambda: Counter(line.split()[0] for line in log.read_text().splitlines())


def _examples() -> tuple[Platform, tuple[App, ...]]:
    platform = platform_config.load_platform(str(ROOT))
    return platform, tuple(app_repo.load_apps(app_repo.example_app_dirs(str(ROOT)), str(ROOT)))


def _publish(bare: Path, jobs: int) -> None:
    platform, apps = _examples()
    req = delivery.Request(
        url=str(bare),
        apps=apps,
        env_ids=("dev", "prod"),
        jobs=jobs,
        platform_digest=roots.platform_digest(str(ROOT)),
    )
    delivery.publish(platform, req, os.environ)


def _trees(bare: Path) -> dict[str, str]:
    refs = git("--git-dir", str(bare), "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    return {ref: git("--git-dir", str(bare), "rev-parse", f"{ref}^{{tree}}") for ref in refs}


def test_the_protected_environment_renders_once_with_the_direct_one(
    tmp_path: Path, counted: Callable[[], Counter[str]]
) -> None:
    serial, parallel = tmp_path / "serial.git", tmp_path / "parallel.git"
    for bare in (serial, parallel):
        init_bare(bare)
    _publish(serial, jobs=1)
    assert counted() == {"dev": 1, "prod": 1}  # one group after the other, each in this process
    _publish(parallel, jobs=2)
    # prod rendered alongside dev, in the first group's pool (alone it renders in this process);
    # its own group took that render
    assert counted() == {"dev": 2, "prod": 2}
    assert sorted((tmp_path / "renders.log").read_text().splitlines()[2:]) == ["dev worker", "prod worker"]
    trees = _trees(parallel)
    assert set(trees) == {"main", "atlantis/dev/billing+shop", "render/prod/billing+shop"}
    assert trees == _trees(serial)


def test_a_render_ahead_is_taken_only_for_the_same_inputs(counted: Callable[[], Counter[str]]) -> None:
    platform, apps = _examples()
    options = pipeline.Options(jobs=2)
    prod = platform.environments["prod"]
    first = pipeline.run(platform, apps, ["dev"], options, ahead=[(prod, options)])
    assert set(first.ahead) == {"prod"} and counted() == {"dev": 1, "prod": 1}
    alone = pipeline.run(platform, apps, ["prod"], options)
    taken = pipeline.run(platform, apps, ["prod"], options, ready=first.ahead)
    assert counted()["prod"] == 2  # the plain run rendered; the run given the render ahead did not
    assert taken.tree == alone.tree and taken.report.findings == alone.report.findings

    changed = (apps[0], App(**{**{f: getattr(apps[1], f) for f in App.__slots__}, "display": "moved"}))
    pipeline.run(platform, changed, ["prod"], options, ready=first.ahead)
    pipeline.run(platform, apps, ["prod"], pipeline.Options(jobs=2, images={"": "x"}), ready=first.ahead)
    assert counted()["prod"] == 4  # other apps, other options: rendered again

    # owners recorded since: taken while they refuse nothing, rendered again (and refused) when they do
    uid = "kafka-topic.default#shop-orders"
    pipeline.run(platform, apps, ["prod"], pipeline.Options(jobs=2, owners={uid: "shop"}), ready=first.ahead)
    assert counted()["prod"] == 4
    with pytest.raises(InputError, match=f"shared resource {uid} belongs to app 'billing'"):
        pipeline.run(
            platform, apps, ["prod"], pipeline.Options(jobs=2, owners={uid: "billing"}), ready=first.ahead
        )
    assert counted()["prod"] == 5


def test_without_workers_nothing_renders_ahead(counted: Callable[[], Counter[str]]) -> None:
    platform, apps = _examples()
    prod = platform.environments["prod"]
    serial = pipeline.Options(jobs=1)
    assert pipeline.run(platform, apps, ["dev"], serial, ahead=[(prod, serial)]).ahead == {}
    assert counted() == {"dev": 1}


def test_a_worker_dying_on_a_render_ahead_does_not_fail_this_run(
    counted: Callable[[], Counter[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A render ahead that kills its worker breaks the whole pool: this run's own environments
    render again, without it, and the later run renders its environment itself."""
    monkeypatch.setattr(pipeline, "_one_env", _dies_on_prod)
    platform, apps = _examples()
    options = pipeline.Options(jobs=2)
    prod = platform.environments["prod"]
    first = pipeline.run(platform, apps, ["dev", "staging"], options, ahead=[(prod, options)])
    assert first.ahead == {} and {e.env.id for e in first.envs} == {"dev", "staging"}
    assert first.tree == pipeline.run(platform, apps, ["dev", "staging"], pipeline.Options()).tree
