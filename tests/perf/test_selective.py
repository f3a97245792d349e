"""A publish renders only what it can change: one app's publish its app and the shared scope; a
platform change (`--all-apps`) the apps whose recorded platform files it touches. The trees are
those a full render gives."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import bench, fleet
from renderer import pipeline
from renderer.adapters import gitrepo
from renderer.checks import collisions
from renderer.data import blob_id
from renderer.errors import InputError, PolicyDenied
from renderer.inputs import app_repo, platform_config, roots
from renderer.model import Workload
from renderer.publish import bookkeeping, selective, shards, writer
from renderer.publish import delivery as publish
from renderer.render import catalog, kubernetes
from renderer.render.tree import StoredShared
from renderer.resolve import nodes
from tests.conftest import git, write

APPS = 4  # svc-0000 uses search (every 10th app of the fleet), the others do not


@pytest.fixture
def fleet_root(tmp_path: Path) -> str:
    return fleet.platform_root(str(tmp_path / "platform"))


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How many workloads of each app were rendered (the real renderer, counted)."""
    counts: Counter[str] = Counter()
    real = kubernetes.render_workload

    def counted(wl: Workload, *args: object, **kwargs: object) -> object:
        counts[wl.app] += 1
        return real(wl, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kubernetes, "render_workload", counted)
    yield counts


def _publish(root: str, bare: Path, folders: list[str] | None = None, **kw: object) -> None:
    platform = platform_config.load_platform(root)
    apps = app_repo.load_apps(folders, root) if folders else ()
    envs = kw.pop("env_ids", ("dev", "staging"))
    req = publish.Request(
        url=str(bare),
        apps=apps,
        env_ids=envs,  # type: ignore[arg-type]
        platform_digest=roots.platform_digest(root),
        **kw,  # type: ignore[arg-type]
    )
    publish.publish(platform, req, os.environ)


def _trees(bare: Path) -> dict[str, str]:
    refs = git("--git-dir", str(bare), "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    return {ref: git("--git-dir", str(bare), "rev-parse", f"{ref}^{{tree}}") for ref in refs}


def _merge_atlantis(bare: Path) -> None:
    """Atlantis applied and merged the Terraform branch (on top of main): main holds it."""
    for ref in _trees(bare):
        if ref.startswith("atlantis/"):
            git("--git-dir", str(bare), "update-ref", "refs/heads/main", f"refs/heads/{ref}")
            git("--git-dir", str(bare), "branch", "-q", "-D", ref)


def _copy(bare: Path, name: str) -> Path:
    dest = bare.parent / name
    shutil.copytree(bare, dest)
    return dest


def _full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference: every stored app rendered from a whole checkout, as before selective renders."""
    monkeypatch.setattr(publish, "_focus", lambda *args: None)
    monkeypatch.setattr(selective, "focus", lambda *args: None)
    monkeypatch.setattr(publish, "_on_disk", lambda path: True)


def test_platform_change_renders_only_the_apps_that_read_it(
    tmp_path: Path, bare_repo: Path, fleet_root: str, renders: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = fleet.generate(str(tmp_path / "apps"), APPS, 1)
    _publish(fleet_root, bare_repo, folders)
    assert renders == {f"svc-{i:04d}": 2 for i in range(APPS)}  # every app, in both environments
    index = json.loads(
        git("--git-dir", str(bare_repo), "show", f"main:{bookkeeping.STORE}/svc-0001/index.json")
    )
    assert sorted(index[selective.RECORD]) == ["dev", "staging"]
    renders.clear()
    _publish(fleet_root, bare_repo, all_apps=True)  # staging's Terraform is not on main yet
    assert renders == {f"svc-{i:04d}": 2 for i in range(APPS)}
    _merge_atlantis(bare_repo)
    fleet.change_platform(fleet_root)  # a new Elasticsearch image: only svc-0000 uses search
    reference = _copy(bare_repo, "reference.git")
    renders.clear()
    read: list[str] = []
    fetched: list[bool] = []
    real_read, real_fetch = gitrepo.read_files, gitrepo.fetch_head
    with monkeypatch.context() as m:
        m.setattr(gitrepo, "read_files", lambda *a, **k: (read.extend(a[2]), real_read(*a, **k))[1])
        m.setattr(gitrepo, "fetch_head", lambda *a, **k: (fetched.append(k["blobs"]), real_fetch(*a, **k))[1])
        _publish(fleet_root, bare_repo, all_apps=True)
    assert renders == {"svc-0000": 2}
    # the apps not rendered again keep their files as they are: main was fetched without file
    # contents, and none of their files was read (their Ingresses' recorded ids stand for them)
    assert fetched == [False] and read
    assert not [
        p
        for p in read
        if p.startswith(("kubernetes/", "terraform/", "catalog/", "clusters/")) and "/svc-0001/" in p
    ]
    with monkeypatch.context() as m:
        _full(m)
        _publish(fleet_root, reference, all_apps=True)
    assert renders["svc-0001"] == 2  # the reference did render every app
    assert _trees(bare_repo) == _trees(reference)
    renders.clear()
    _publish(fleet_root, bare_repo, all_apps=True)  # the records are current: only the shared scope
    assert renders == {}


@pytest.mark.parametrize(
    "path",
    [
        "kubernetes/dev/svc-0001/w0/deployment-w0.yaml",  # changed: the same paths
        "catalog/dev/svc-0001/extra.yaml",  # added where `outputs` does not look
        "clusters/dev/renderer/svc-0001/extra.yaml",
    ],
)
def test_a_file_changed_by_hand_renders_its_app_again(
    tmp_path: Path,
    bare_repo: Path,
    fleet_root: str,
    renders: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    """A platform-wide publish renders an app again whose files outside Terraform are not those
    its last publish committed (its index's `output_ids`), as a full render would put them back."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders, env_ids=("dev",))
    _merge_atlantis(bare_repo)
    renders.clear()
    _publish(fleet_root, bare_repo, all_apps=True, env_ids=("dev",))
    assert renders == {}  # nothing changed: nothing stale
    hand = tmp_path / "hand"
    git("clone", "-q", str(bare_repo), str(hand))
    (hand / path).parent.mkdir(parents=True, exist_ok=True)
    (hand / path).write_text("kind: Edited\n")
    git("-C", str(hand), "add", "-A")
    git("-C", str(hand), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "by hand")
    git("-C", str(hand), "push", "-q", "origin", "HEAD:main")
    fleet.change_platform(fleet_root)  # svc-0000 reads it; svc-0001 was changed by hand
    _both_rendered_as_a_full_render_would(fleet_root, bare_repo, renders, monkeypatch)


def _both_rendered_as_a_full_render_would(
    root: str, bare: Path, renders: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A platform-wide publish of dev renders both apps, its trees are a full render's, and the
    next one renders nothing (what was changed by hand is put back and recorded)."""
    reference = _copy(bare, "reference.git")
    renders.clear()
    _publish(root, bare, all_apps=True, env_ids=("dev",))
    assert renders == {"svc-0000": 1, "svc-0001": 1}
    with monkeypatch.context() as m:
        _full(m)
        _publish(root, reference, all_apps=True, env_ids=("dev",))
    assert _trees(bare) == _trees(reference)
    renders.clear()
    _publish(root, bare, all_apps=True, env_ids=("dev",))
    assert renders == {}


def test_an_index_without_the_record_of_its_files_renders_its_app_once(
    tmp_path: Path, bare_repo: Path, fleet_root: str, renders: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexes written before `output_ids` cannot say whether a file was changed by hand: the
    first platform-wide publish renders those apps again, putting such a file back."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders, env_ids=("dev",))
    _merge_atlantis(bare_repo)
    hand = tmp_path / "hand"
    git("clone", "-q", str(bare_repo), str(hand))
    for index in sorted((hand / bookkeeping.STORE).glob("*/index.json")):
        body = json.loads(index.read_text())
        del body[selective.OUTPUT_IDS]  # as the renderer before it wrote them
        index.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    (hand / "kubernetes/dev/svc-0001/w0/deployment-w0.yaml").write_text("kind: Edited\n")
    git("-C", str(hand), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "older, by hand")
    git("-C", str(hand), "push", "-q", "origin", "HEAD:main")
    _both_rendered_as_a_full_render_would(fleet_root, bare_repo, renders, monkeypatch)


def test_a_file_every_app_reads_renders_every_app(
    tmp_path: Path, bare_repo: Path, fleet_root: str, renders: Counter[str]
) -> None:
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)
    trust = Path(fleet_root) / "platform-config" / "trust.yaml"
    trust.write_text(trust.read_text() + "\n# reviewed\n")
    renders.clear()
    _publish(fleet_root, bare_repo, all_apps=True)
    assert renders == {"svc-0000": 2, "svc-0001": 2}


def test_an_app_without_a_record_is_stale(tmp_path: Path, fleet_root: str) -> None:
    prints = selective.Prints.of(fleet_root)
    old = {"version": 1, "app": "old"}  # an index from before `depends`
    write(tmp_path / bookkeeping.STORE / "old" / "index.json", json.dumps(old))
    write(tmp_path / bookkeeping.STORE / "gone" / "readme.txt", "no index")
    indexes = bookkeeping.Indexes(writer.on_disk(str(tmp_path)).read)
    assert selective.stale(indexes, [], ["gone", "old"], ["dev"], prints) == {"gone", "old"}


def test_one_app_publish_renders_that_app_alone(
    tmp_path: Path, bare_repo: Path, fleet_root: str, renders: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = fleet.generate(str(tmp_path / "apps"), APPS, 1)
    _publish(fleet_root, bare_repo, folders)
    fleet.change_workload(folders[1])
    reference = _copy(bare_repo, "reference.git")
    renders.clear()
    left_out: list[str] = []
    real_index = gitrepo.index

    def index(root: str) -> dict[str, tuple[str, str, bool]]:
        listed = real_index(root)
        left_out.extend(p for p, (_, _, skipped) in listed.items() if skipped)
        return listed

    monkeypatch.setattr(gitrepo, "index", index)
    _publish(fleet_root, bare_repo, [folders[1]])
    assert renders == {"svc-0001": 2}
    # only the bookkeeping records were checked out: every app's files, the Ingresses the host
    # check reads and the app's own among them, and the stored apps' inputs and indexes were read
    # from git's objects
    assert "kubernetes/dev/svc-0002/w0/deployment-w0.yaml" in left_out
    assert "kubernetes/dev/svc-0001/w0/deployment-w0.yaml" in left_out
    assert "kubernetes/dev/svc-0000/w0/ingress-w0-route.yaml" in left_out
    assert ".render/apps/svc-0000/index.json" in left_out
    assert ".render/apps/svc-0000/score-w0.yaml" in left_out
    assert not [p for p in left_out if p.startswith(".render/") and not p.startswith(".render/apps/")]
    with monkeypatch.context() as m:
        _full(m)
        _publish(fleet_root, reference, [folders[1]])
    assert renders["svc-0002"] == 2
    assert _trees(bare_repo) == _trees(reference)


FROZEN = """package kubernetes

import rego.v1

deny_frozen_team contains msg if {
	input.metadata.annotations["example.com/team"] == "svc-0001"
	msg := "team svc-0001 is frozen"
}
"""


def test_one_app_publish_is_not_refused_for_another_apps_workload(
    tmp_path: Path, bare_repo: Path, fleet_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the workloads a publish renders are scanned and checked: a policy another app's stored
    Score file now breaks refuses that app's next publish, not another team's."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders, env_ids=("staging",))
    write(Path(fleet_root) / "policies" / "baseline" / "frozen.rego", FROZEN)  # staging denies baseline
    fleet.change_workload(folders[0])
    reference = _copy(bare_repo, "reference.git")
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))  # svc-0000: published
    fleet.change_workload(folders[1])
    with pytest.raises(PolicyDenied) as caught:
        _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    assert "team svc-0001 is frozen" in "\n".join(p.render() for p in caught.value.problems())
    with monkeypatch.context() as m, pytest.raises(PolicyDenied):  # every workload checked: refused
        _full(m)
        _publish(fleet_root, reference, [folders[0]], env_ids=("staging",))


EVIL = """package score

import rego.v1

deny_evil contains msg if {
	some _, r in input.resources
	r.id == "svc-0000-evil"
	msg := "svc-0000-evil is forbidden"
}
"""


def test_an_app_ahead_of_its_render_is_not_rendered_nor_checked_where_it_was_not_published(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """An app published to staging only, with a qa override asking for a database qa's policies
    forbid: its inputs are newer than its render in qa. Another app's qa publish leaves its qa
    database as it is and adds none of its new ones, so it reads nothing of those inputs and is
    not refused for them; the app's own qa publish is."""
    write(Path(fleet_root) / "policies" / "baseline" / "evil.rego", EVIL)
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders, env_ids=("staging", "qa"))
    _merge_atlantis(bare_repo)
    before = _modules(bare_repo, "qa")
    write(Path(folders[0]) / "overrides" / "qa" / "w0.yaml", "resources:\n  db:\n    id: svc-0000-evil\n")
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))  # its staging variant is fine
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("qa",))
    _merge_atlantis(bare_repo)
    assert _modules(bare_repo, "qa") == before
    head = git("--git-dir", str(bare_repo), "rev-parse", "main")
    with pytest.raises(PolicyDenied) as caught:
        _publish(fleet_root, bare_repo, [folders[0]], env_ids=("qa",))
    assert "svc-0000-evil is forbidden" in "\n".join(p.render() for p in caught.value.problems())
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == head


LONE = """apiVersion: score.dev/v1b1
metadata:
  name: lone
containers:
  main:
    image: ghcr.io/example/lone:{tag}
    resources:
      limits: {{cpu: 200m, memory: 128Mi}}
"""


def test_an_app_ahead_of_its_render_that_the_render_reads_nothing_of_is_not_checked(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """An app with an unpublished change in dev (where `:latest` only warns) that requests nothing
    shared: another team's staging publish uses none of its inputs, so it is not refused for it;
    its own staging publish is."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    lone = write(tmp_path / "apps" / "lone" / "score.yaml", LONE.format(tag="1.0.0")).parent
    envs = ("dev", "staging")
    _publish(fleet_root, bare_repo, [*folders, str(lone)], env_ids=envs)
    _merge_atlantis(bare_repo)
    write(lone / "score.yaml", LONE.format(tag="latest"))
    _publish(fleet_root, bare_repo, [str(lone)], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))  # published
    with pytest.raises(PolicyDenied) as caught:
        _publish(fleet_root, bare_repo, [str(lone)], env_ids=("staging",))
    assert "lone:latest uses :latest" in "\n".join(p.render() for p in caught.value.problems())


def test_an_app_ahead_of_its_render_that_dropped_a_shared_request_is_not_read(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """An app that no longer requests the database it requested at its last staging render, with
    an image staging refuses, published to dev only: another team's staging publish keeps the
    database as it is (the app's staging objects read it) and reads nothing of the app's new
    inputs, so it lands; the app's own staging publish is refused."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders, env_ids=("dev", "staging"))
    _merge_atlantis(bare_repo)
    before = _modules(bare_repo, "staging")
    _without_db(folders[0], "svc-0000")
    score = Path(folders[0]) / "score-w0.yaml"
    score.write_text(score.read_text().replace(":1.0.0", ":latest"))
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))  # dev only warns on :latest
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert _modules(bare_repo, "staging") == before
    with pytest.raises(PolicyDenied) as caught:
        _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    assert "svc-0000/w0:latest uses :latest" in "\n".join(p.render() for p in caught.value.problems())


def _without_db(folder: str, app: str, also: str = "") -> None:
    """The app's Score file without its database (nor `also`, a resources entry's text)."""
    score = Path(folder) / "score-w0.yaml"
    text = "\n".join(line for line in score.read_text().splitlines() if "resources.db" not in line) + "\n"
    text = text.replace(f"    id: {app}-db\n", "").replace("  db:\n    type: postgres\n", "")
    text = text.replace(also, "")
    assert "type: postgres" not in text and (not also or also not in text)
    score.write_text(text)


def test_removing_an_app_ahead_of_its_render_renders_again_what_it_requested(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """svc-0000, first requester of the database it shares with svc-0001, is published to staging
    only (ahead of its render in dev), then removed from dev: its requests there count as changed,
    so the database is rendered again with svc-0001 as its first requester, as a full render does."""
    _shareable(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _db(folders[1], "svc-0001-db", "svc-0000-db")
    _publish(fleet_root, bare_repo, folders)
    fleet.change_workload(folders[0])
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    _publish(fleet_root, bare_repo, remove_apps=("svc-0000",), env_ids=("dev",))
    files = _files(bare_repo, "kubernetes/dev/_shared/postgres-svc-0000-db/")
    assert "first: svc-0001" in "".join(files.values())


@pytest.mark.parametrize("private", [False, True])
def test_a_shared_resource_an_app_ahead_of_its_render_still_uses_there_is_kept(
    tmp_path: Path, bare_repo: Path, fleet_root: str, private: bool
) -> None:
    """An app drops its database and a shared Elasticsearch, published to dev only: its staging
    objects still read them, so another team's staging publish keeps them as stored (their
    Terraform modules, folders and catalog entities), and the database instance its database uses,
    which no other app's does; the shared catalog stays byte for byte. The app's own staging
    publish then removes them. `private`: the database is the app's own (in its own project), and
    only the instance it uses is shared."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    search = "  search-shared:\n    type: elasticsearch\n    id: search-shared\n"
    score = Path(folders[0]) / "score-w0.yaml"
    text = score.read_text().replace("\nresources:\n", f"\nresources:\n{search}", 1)
    score.write_text(text.replace("    id: svc-0000-db\n", "") if private else text)
    _without_db(folders[1], "svc-0001")  # the database instance is svc-0000's alone
    _publish(fleet_root, bare_repo, folders, env_ids=("dev", "staging"))
    _merge_atlantis(bare_repo)
    modules = ["postgres-instance_shared", *([] if private else ["postgres_svc-0000-db"])]
    uids = [
        "postgres-instance.default#shared",
        "elasticsearch.default#search-shared",
        *([] if private else ["postgres.default#svc-0000-db"]),
    ]
    folder = "_shared/elasticsearch-search-shared/"

    def held(env: str) -> tuple[dict[str, Any], list[bool], dict[str, str]]:
        files = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main").split()

        def show(path: str) -> str:
            return git("--git-dir", str(bare_repo), "show", f"main:{path}") if path in files else ""

        main = json.loads(show(f"terraform/{env}/_shared/main.tf.json") or "{}").get("module", {})
        listed = show(f"catalog/{env}/_shared/catalog-info.yaml")
        search = {p: show(p) for p in files if p.startswith(f"kubernetes/{env}/{folder}")}
        live = {m: main[m] for m in modules if m in main and not main[m]["source"].endswith("/emptied")}
        return live, [f"name: {catalog.shared_name(u)}\n" in listed for u in uids], search

    before = held("staging")
    assert sorted(before[0]) == sorted(modules) and all(before[1]) and before[2]
    listed = "main:catalog/staging/_shared/catalog-info.yaml"
    catalog_before = git("--git-dir", str(bare_repo), "show", listed)
    _without_db(folders[0], "svc-0000", search)
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    assert held("dev") == ({}, [False] * len(uids), {})
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert held("staging") == before
    # the kept entities where they stood: no diff in another team's commit, no merge conflict
    assert git("--git-dir", str(bare_repo), "show", listed) == catalog_before
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert held("staging") == ({}, [False] * len(uids), {})


def test_a_kept_catalog_entity_stays_where_it_stood(tmp_path: Path, bare_repo: Path, fleet_root: str) -> None:
    """svc-0000 drops its database, dev only: another team's staging publish keeps its entity in
    the shared catalog where it stood, so the file does not change (no diff in that team's commit,
    and two merge requests of prod do not conflict on it or bring it back)."""
    folders = fleet.generate(str(tmp_path / "apps"), 3, 1)
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)
    listed = "main:catalog/staging/_shared/catalog-info.yaml"
    before = git("--git-dir", str(bare_repo), "show", listed)
    assert before.index("svc-0000-db") < before.index("svc-0001-db")  # not last
    _without_db(folders[0], "svc-0000")
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    assert git("--git-dir", str(bare_repo), "show", listed) == before


@pytest.mark.parametrize("sharded", [False, True])
def test_the_shared_resources_of_an_app_whose_stored_inputs_no_longer_load_are_kept(
    tmp_path: Path, bare_repo: Path, fleet_root: str, sharded: bool
) -> None:
    """An app whose stored inputs no longer load keeps its last output: the shared resources that
    output reads stay too, through another app's publish and a platform-wide one (sharded: a merge
    of shards renders every app that loads)."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _without_db(folders[1], "svc-0001")  # the database instance is svc-0000's alone
    _publish(fleet_root, bare_repo, folders, env_ids=("staging",))
    _merge_atlantis(bare_repo)
    project = "main:terraform/staging/_shared/main.tf.json"
    before = json.loads(git("--git-dir", str(bare_repo), "show", project))["module"]
    assert sorted(before) == ["postgres-instance_shared", "postgres_svc-0000-db"]
    clone = tmp_path / "by-hand"
    git("clone", "-q", str(bare_repo), str(clone))
    (clone / bookkeeping.STORE / "svc-0000" / "score-w0.yaml").write_text("metadata: [\n")
    git("-C", str(clone), "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "by hand")
    git("-C", str(clone), "push", "-q", "origin", "main")
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert json.loads(git("--git-dir", str(bare_repo), "show", project))["module"] == before
    fleet.change_platform(fleet_root)
    if sharded:
        platform = platform_config.load_platform(fleet_root)
        digest = roots.platform_digest(fleet_root)
        req = publish.Request(url=str(bare_repo), env_ids=("staging",), platform_digest=digest, all_apps=True)
        manifest = shards.render_shard(platform, req, os.environ, 1, 1)
        run = shards.merged([manifest], req.platform_digest)
        publish.publish(platform, dataclasses.replace(req, run=run), os.environ)
    else:
        _publish(fleet_root, bare_repo, all_apps=True, env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert json.loads(git("--git-dir", str(bare_repo), "show", project))["module"] == before


def _modules(bare: Path, env: str) -> dict[str, Any]:
    """The module blocks of the environment's shared Terraform project on main."""
    files = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "main").split()
    path = f"terraform/{env}/_shared/main.tf.json"
    if path not in files:
        return {}
    modules: dict[str, Any] = json.loads(git("--git-dir", str(bare), "show", f"main:{path}")).get(
        "module", {}
    )
    return modules


def test_removing_an_app_keeps_what_an_app_ahead_of_its_render_still_uses(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """A publish that removes one app counts what that app requested as changed, and holds nothing
    of it; what an app ahead of its render still uses there stays."""
    folders = fleet.generate(str(tmp_path / "apps"), 3, 1)
    _without_db(folders[1], "svc-0001")
    _publish(fleet_root, bare_repo, folders, env_ids=("dev", "staging"))
    _merge_atlantis(bare_repo)
    before = _modules(bare_repo, "staging")
    assert sorted(before) == ["postgres-instance_shared", "postgres_svc-0000-db", "postgres_svc-0002-db"]
    _without_db(folders[0], "svc-0000")
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    _publish(fleet_root, bare_repo, remove_apps=("svc-0002",), env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert _modules(bare_repo, "staging") == {k: v for k, v in before.items() if k != "postgres_svc-0002-db"}


def test_a_stored_block_being_destroyed_is_not_kept() -> None:
    """What is kept of the shared Terraform comes from a live project, never from a tombstone nor
    an emptied block: those resources are being destroyed already."""
    from renderer.render import terraform

    block = {"source": "../modules/postgres-database", "database_name": "x"}
    live = json.dumps({"module": {"postgres_db": block}}).encode()
    assert terraform.live_blocks(live) == {"postgres_db": block}
    tombstone = json.dumps({"//": "emptied by platform-renderer", "module": {"postgres_db": block}})
    emptied = {"source": "../modules/postgres-database/emptied", "database_name": "x"}
    for data in (tombstone.encode(), json.dumps({"module": {"postgres_db": emptied}}).encode(), b"[", b"[]"):
        assert terraform.live_blocks(data) == {}


def test_an_app_ahead_of_its_render_whose_own_database_uses_a_shared_instance_is_not_checked(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """The instance an app's own database uses takes nothing from the app: another team's staging
    publish reads none of that app's new inputs, so it is not refused for them (the app's reads are
    held, its requests alone decide what is read of it)."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    score = Path(folders[0]) / "score-w0.yaml"
    score.write_text(score.read_text().replace("    id: svc-0000-db\n", ""))  # its own database
    _without_db(folders[1], "svc-0001")
    _publish(fleet_root, bare_repo, folders, env_ids=("dev", "staging"))
    _merge_atlantis(bare_repo)
    score.write_text(score.read_text().replace(":1.0.0", ":latest"))  # dev only warns on :latest
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    index = json.loads(
        git("--git-dir", str(bare_repo), "show", f"main:{bookkeeping.STORE}/svc-0000/index.json")
    )
    assert index["shared"]["staging"] == [] and index["reads"]["staging"] == [
        "postgres-instance.default#shared"
    ]
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))


def test_a_resource_of_another_class_with_another_apps_id_is_refused(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """Another class of the same type and id is another resource with the same Terraform module
    name: it would replace the other app's database. The publish that brings it is refused."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders, env_ids=("staging",))
    _merge_atlantis(bare_repo)
    head = git("--git-dir", str(bare_repo), "rev-parse", "main")
    score = Path(folders[1]) / "score-w0.yaml"
    text = score.read_text().replace("\nresources:\n", "\nresources:\n  theirs:\n    type: postgres\n", 1)
    score.write_text(
        text.replace(
            "  theirs:\n    type: postgres\n",
            "  theirs:\n    type: postgres\n    class: large\n    id: svc-0000-db\n",
        )
    )
    with pytest.raises(InputError) as caught:
        _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    said = "\n".join(p.render() for p in caught.value.problems())
    assert "would both be Terraform module 'postgres_svc-0000-db'" in said and "svc-0001" in said
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == head


def test_an_app_ahead_of_its_render_that_changed_its_databases_class_keeps_the_old_one_there(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """Another class is another resource with the same module and folder: published to dev only,
    another team's staging publish keeps the old class's database (module and catalog entity) as
    it is, and the new one does not reach staging; the app's own staging publish switches."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders, env_ids=("dev", "staging"))
    _merge_atlantis(bare_repo)
    before = _modules(bare_repo, "staging")
    score = Path(folders[0]) / "score-w0.yaml"
    score.write_text(
        score.read_text().replace("    type: postgres\n", "    type: postgres\n    class: large\n")
    )
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    _merge_atlantis(bare_repo)

    def listed() -> tuple[bool, bool]:
        text = git("--git-dir", str(bare_repo), "show", "main:catalog/staging/_shared/catalog-info.yaml")
        names = [f"name: {catalog.shared_name(f'postgres.{c}#svc-0000-db')}\n" for c in ("default", "large")]
        return names[0] in text, names[1] in text

    assert _modules(bare_repo, "staging") == before and listed() == (True, False)
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert _modules(bare_repo, "staging") != before and listed() == (False, True)


def test_an_app_ahead_of_its_render_blocks_no_other_team_with_inputs_for_an_environment(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """An app published to dev only, with a staging override asking for another app's database
    (which staging refuses) and a dev-only claim on another class of that app's database id: it
    requests nothing in staging until it is published there, so the other teams' staging
    publishes land and change nothing of it; its own staging publish is refused."""
    folders = fleet.generate(str(tmp_path / "apps"), 3, 1)
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)
    before = _modules(bare_repo, "staging")
    write(Path(folders[0]) / "overrides" / "staging" / "w0.yaml", "resources:\n  db:\n    id: svc-0001-db\n")
    score = Path(folders[0]) / "score-w0.yaml"
    squat = "  squat:\n    type: postgres\n    class: large\n    id: svc-0001-db\n"
    score.write_text(score.read_text().replace("\nresources:\n", f"\nresources:\n{squat}", 1))
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    for folder in folders[1:]:
        fleet.change_workload(folder)
        _publish(fleet_root, bare_repo, [folder], env_ids=("staging",))
        _merge_atlantis(bare_repo)
    assert _modules(bare_repo, "staging") == before
    with pytest.raises(InputError) as caught:
        _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    assert "belongs to app 'svc-0001'" in "\n".join(p.render() for p in caught.value.problems())


def test_a_newer_app_joining_another_apps_shareable_database_changes_nothing_there(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """Where the platform lets apps share a database, an app that joins another's (and moves to
    `:latest`, which dev allows) in dev only would sort first among its requesters: the owner's
    staging publish reads none of it, is not refused for it, and its module stays as it was."""
    _shareable(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)
    before = _modules(bare_repo, "staging")
    score = Path(folders[0]) / "score-w0.yaml"
    theirs = "  theirs:\n    type: postgres\n    id: svc-0001-db\n"
    text = score.read_text().replace("\nresources:\n", f"\nresources:\n{theirs}", 1)
    score.write_text(text.replace(":1.0.0", ":latest"))
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert _modules(bare_repo, "staging") == before


def test_a_shared_database_whose_first_requester_is_ahead_of_its_render_is_not_renamed(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """svc-0000 leaves the database it shares with svc-0001 (its first requester, whose name the
    database takes), published to staging only. A third team's dev publish keeps it as it is;
    svc-0001's dev publish, which must resolve it again, is refused, naming svc-0000; once svc-0000
    is published to dev, svc-0001's lands."""
    _shareable(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), 3, 1)
    _db(folders[1], "svc-0001-db", "svc-0000-db")
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)

    def first() -> list[str]:
        files = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main").split()
        below = [p for p in files if p.startswith("kubernetes/dev/_shared/postgres-svc-0000-db/")]
        text = "".join(git("--git-dir", str(bare_repo), "show", f"main:{p}") for p in below)
        return sorted({line.strip() for line in text.splitlines() if "first:" in line})

    assert first() == ["first: svc-0000"]
    _db(folders[0], "svc-0000-db", "svc-0000-own")
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[2])
    _publish(fleet_root, bare_repo, [folders[2]], env_ids=("dev",))
    assert first() == ["first: svc-0000"]
    fleet.change_workload(folders[1])
    with pytest.raises(InputError) as caught:
        _publish(fleet_root, bare_repo, [folders[1]], env_ids=("dev",))
    said = "\n".join(p.render() for p in caught.value.problems())
    assert "rendered in dev from app 'svc-0000'" in said and "publish svc-0000 to dev first" in said
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("dev",))
    assert first() == ["first: svc-0001"]


def test_another_class_of_a_newer_apps_database_id_is_refused_where_its_objects_read_it(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """svc-0001 is published to dev only: in staging it is ahead of its render, its objects there
    read its database. Another app's staging publish asking for another class of that database's
    id (its module and folder names) is refused, naming svc-0001; the database stays."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)
    before = _modules(bare_repo, "staging")
    fleet.change_workload(folders[1])
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    score = Path(folders[0]) / "score-w0.yaml"
    squat = "  squat:\n    type: postgres\n    class: large\n    id: svc-0001-db\n"
    score.write_text(score.read_text().replace("\nresources:\n", f"\nresources:\n{squat}", 1))
    with pytest.raises(InputError) as caught:
        _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    said = "\n".join(p.render() for p in caught.value.problems())
    assert "would take the module postgres_svc-0001-db of postgres.default#svc-0001-db" in said
    assert "publish svc-0001 to staging first" in said and _modules(bare_repo, "staging") == before


def _shareable_topic(fleet_root: str, description: str = "") -> None:
    """Any app may share a Kafka topic (named after its first requester's app)."""
    path = Path(fleet_root) / "platform-config" / "resources" / "kafka-topic.yaml"
    text = path.read_text().replace("\ndriver: ", "\naccess: {shared: platform}\ndriver: ")
    if description:
        text = re.sub(r"\ndescription: [^\n]*\n", f"\ndescription: {description}\n", text, count=1)
    path.write_text(text)


def _ask(folder: str, resource: str) -> None:
    score = Path(folder) / "score-w0.yaml"
    score.write_text(score.read_text().replace("\nresources:\n", f"\nresources:\n{resource}", 1))


def _refused_with_one_ahead(fleet_root: str, bare: Path, folders: list[str], ahead: int, other: int) -> str:
    """Every app published, then `ahead` changed and published to dev only (ahead of its render in
    staging), then `other` changed: what refuses `other`'s staging publish (it must be refused)."""
    _publish(fleet_root, bare, folders)
    _merge_atlantis(bare)
    fleet.change_workload(folders[ahead])
    _publish(fleet_root, bare, [folders[ahead]], env_ids=("dev",))
    fleet.change_workload(folders[other])
    with pytest.raises(InputError) as caught:
        _publish(fleet_root, bare, [folders[other]], env_ids=("staging",))
    return "\n".join(p.render() for p in caught.value.problems())


def test_a_shared_resource_whose_params_came_from_a_newer_app_is_refused_to_re_render(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """A shareable topic that svc-0000 requests bare and svc-0001 gives its params: with svc-0001
    published to dev only, svc-0000's staging publish would render it without those params; it is
    refused, naming svc-0001."""
    _shareable_topic(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    for folder, params in ((folders[0], ""), (folders[1], "    params: {partitions: 12}\n")):
        _ask(folder, f"  events:\n    type: kafka-topic\n    id: events\n{params}")
    said = _refused_with_one_ahead(fleet_root, bare_repo, folders, 1, 0)
    assert "kafka-topic.default#events was rendered in staging from app 'svc-0001'" in said


def test_a_holder_that_gave_params_then_and_gives_none_now_is_taken_for_their_source(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """svc-0001 gave the shared topic its params at its last staging render and drops them in dev
    only: its params of then are gone with its inputs, so svc-0000's staging publish, which would
    render the topic without them, is refused, naming svc-0001."""
    _shareable_topic(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    topic = "  events:\n    type: kafka-topic\n    id: events\n"
    _ask(folders[0], topic)
    _ask(folders[1], topic + "    params: {partitions: 12}\n")
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)
    score = Path(folders[1]) / "score-w0.yaml"
    score.write_text(score.read_text().replace("    params: {partitions: 12}\n", "", 1))
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("dev",))
    fleet.change_workload(folders[0])
    with pytest.raises(InputError) as caught:
        _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    said = "\n".join(p.render() for p in caught.value.problems())
    assert "kafka-topic.default#events was rendered in staging from app 'svc-0001'" in said


def test_a_render_of_every_app_does_not_take_a_joiner_for_a_requester_of_then(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """svc-0001, first requester of a topic it shares with svc-0002, no longer loads (its output is
    kept). svc-0000 joins the topic in a publish that renders every app (`--all-apps` removing an
    app): it would rename the topic under svc-0001's objects, and is refused, naming svc-0001."""
    _shareable_topic(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), 4, 1)
    topic = "  events:\n    type: kafka-topic\n    id: events\n"
    for folder in folders[1:3]:
        _ask(folder, topic)
    _publish(fleet_root, bare_repo, folders, env_ids=("staging",))
    clone = tmp_path / "by-hand"
    git("clone", "-q", str(bare_repo), str(clone))
    (clone / bookkeeping.STORE / "svc-0001" / "score-w0.yaml").write_text("metadata: [\n")
    git("-C", str(clone), "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "by hand")
    git("-C", str(clone), "push", "-q", "origin", "main")
    _ask(folders[0], topic)
    with pytest.raises(InputError) as caught:
        _publish(
            fleet_root,
            bare_repo,
            [folders[0]],
            env_ids=("staging",),
            all_apps=True,
            remove_apps=("svc-0003",),
        )
    said = "\n".join(p.render() for p in caught.value.problems())
    assert "kafka-topic.default#events was rendered in staging from app 'svc-0001'" in said


CONSUMER = """apiVersion: renderer.platform/v1
kind: ResourceDefinition
id: events-consumer
type: consumer
description: Reads the shared events topic.
driver: static
uses:
  topic: {type: kafka-topic, id: events}
outputs:
  topic: "{{ uses.topic.name }}"
"""


@pytest.mark.parametrize("description", ["A topic.", "An important topic; it includes retention."])
def test_an_app_ahead_of_its_render_blocks_no_team_that_shares_nothing_with_it(
    tmp_path: Path, bare_repo: Path, fleet_root: str, description: str
) -> None:
    """svc-0001's own database has the id `instance-shared`, a folder name the shared database
    instance spells too (neither writes a folder in staging), and svc-0000 shares a topic with
    svc-0001, as its first requester, under a description the `all_workloads` test takes for a
    reader. With both ahead of their render in staging, svc-0002, which shares nothing with them,
    publishes there: nothing of theirs is re-rendered or refused."""
    _shareable_topic(fleet_root, description)
    folders = fleet.generate(str(tmp_path / "apps"), 3, 1)
    _db(folders[1], "svc-0001-db", "instance-shared")
    for folder in folders[:2]:
        _ask(folder, "  events:\n    type: kafka-topic\n    id: events\n")
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)
    topic = "kubernetes/staging/_shared/kafka-topic-events/"
    before = _files(bare_repo, topic), _modules(bare_repo, "staging")
    for folder in folders[:2]:
        fleet.change_workload(folder)
        _publish(fleet_root, bare_repo, [folder], env_ids=("dev",))
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[2])
    _publish(fleet_root, bare_repo, [folders[2]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    assert (_files(bare_repo, topic), _modules(bare_repo, "staging")) == before


def test_a_shared_resource_an_apps_own_resource_uses_is_refused_to_re_render_without_its_requester(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """svc-0001 requests the topic (named after it); svc-0002's own resource uses it. With svc-0001
    ahead of its render in staging, svc-0002's staging publish must resolve the topic without its
    requester, which would rename it: refused, naming svc-0001."""
    _shareable_topic(fleet_root)
    (Path(fleet_root) / "platform-config" / "resources" / "consumer.yaml").write_text(CONSUMER)
    folders = fleet.generate(str(tmp_path / "apps"), 3, 1)
    _ask(folders[1], "  events:\n    type: kafka-topic\n    id: events\n")
    _ask(folders[2], "  consumer:\n    type: consumer\n")
    said = _refused_with_one_ahead(fleet_root, bare_repo, folders, 1, 2)
    assert "kafka-topic.default#events was rendered in staging from app 'svc-0001'" in said


def _files(bare: Path, prefix: str) -> dict[str, str]:
    files = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "main").split()
    return {p: git("--git-dir", str(bare), "show", f"main:{p}") for p in files if p.startswith(prefix)}


def test_a_platform_wide_publish_renders_an_app_ahead_of_its_render(
    tmp_path: Path, bare_repo: Path, fleet_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--all-apps` records every app as published with its stored inputs: an app whose inputs
    went to staging only is rendered into qa too, as a full render does, not merely recorded."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    envs = ("staging", "qa")
    _publish(fleet_root, bare_repo, folders, env_ids=envs)
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[1])  # a new image, to staging only
    _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    reference = _copy(bare_repo, "reference.git")
    _publish(fleet_root, bare_repo, all_apps=True, env_ids=envs)
    deployment = git("--git-dir", str(bare_repo), "show", "main:kubernetes/qa/svc-0001/w0/deployment-w0.yaml")
    assert ":1.0.1" in deployment
    with monkeypatch.context() as m:
        _full(m)
        _publish(fleet_root, reference, all_apps=True, env_ids=envs)
    assert _trees(bare_repo) == _trees(reference)


def test_a_protected_group_of_a_platform_wide_publish_renders_only_the_stale_apps(
    tmp_path: Path, bare_repo: Path, fleet_root: str, renders: Counter[str]
) -> None:
    """The direct group re-stores every app with the new platform digest without rendering it in
    prod: prod's group, which runs after it, does not take that for inputs newer than prod's
    render (`Carried.restored`), and renders the stale app alone, as the direct group did."""
    folders = fleet.generate(str(tmp_path / "apps"), APPS, 1)
    envs = ("dev", "prod")
    _publish(fleet_root, bare_repo, folders, env_ids=envs)
    bench.merge_branches(str(bare_repo), str(tmp_path / "merging"), fleet_root)
    fleet.change_platform(fleet_root)  # a new Elasticsearch image: only svc-0000 uses search
    renders.clear()
    _publish(fleet_root, bare_repo, all_apps=True, env_ids=envs)
    assert renders == {"svc-0000": 2}  # dev in the direct group, prod in its own


def test_a_stored_app_without_its_index_has_its_score_files_checked(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    """Stored inputs without an index (changed by hand in the environment repo) say nothing of
    when they were checked: the shared scope is rendered whole and every app's Score files are
    checked, as without a record."""
    folders = fleet.generate(str(tmp_path / "apps"), 2, 1)
    _publish(fleet_root, bare_repo, folders, env_ids=("staging",))
    _merge_atlantis(bare_repo)
    clone = tmp_path / "by-hand"
    git("clone", "-q", str(bare_repo), str(clone))
    stored = clone / bookkeeping.STORE / "svc-0000"
    score = stored / "score-w0.yaml"
    score.write_text(score.read_text().replace(":1.0.0", ":latest"))
    (stored / "index.json").unlink()
    git("-C", str(clone), "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "by hand")
    git("-C", str(clone), "push", "-q", "origin", "main")
    fleet.change_workload(folders[1])
    with pytest.raises(PolicyDenied) as caught:
        _publish(fleet_root, bare_repo, [folders[1]], env_ids=("staging",))
    assert "svc-0000/w0:latest uses :latest" in "\n".join(p.render() for p in caught.value.problems())


ROUTE = """apiVersion: score.dev/v1b1
metadata:
  name: web
containers:
  main:
    image: ghcr.io/example/web:1.0.0
    resources:
      limits: {cpu: 200m, memory: 128Mi}
service:
  ports:
    http: {port: 80}
resources:
  route:
    type: route
    params: {host: shop.example.com, path: /, port: 80}
"""


def test_a_collision_with_an_app_not_rendered_again_is_refused(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    first = write(tmp_path / "apps" / "first" / "score.yaml", ROUTE).parent
    _publish(fleet_root, bare_repo, [str(first)])
    head = git("--git-dir", str(bare_repo), "rev-parse", "main")
    second = write(tmp_path / "apps" / "second" / "score.yaml", ROUTE).parent
    with pytest.raises(PolicyDenied) as caught:
        _publish(fleet_root, bare_repo, [str(second)])
    said = "\n".join(p.render() for p in caught.value.problems())
    assert "is also routed by app 'first' (owner local)" in said
    assert "kubernetes/dev/first/web/ingress-web-route.yaml" in said
    assert "app 'second' (owner local) cannot take it" in said
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == head


INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: {host}
    http:
      paths:
      - path: /
"""


def test_another_groups_ingresses_are_parsed_once() -> None:
    """The protected group compares its inputs with its render ahead's: the other apps' Ingresses
    the direct group parsed for that render are not parsed again, unless their bytes changed."""
    theirs = "kubernetes/prod/theirs/web/ingress-web.yaml"
    files = {
        theirs: INGRESS.format(host="a.example").encode(),
        "kubernetes/prod/mine/web/ingress-web.yaml": INGRESS.format(host="b.example").encode(),
    }
    held = writer.Held(files, lambda paths: {p: files[p] for p in paths if p in files})
    parsed: selective.Parsed = {}
    first = selective.elsewhere(held, ["prod"], frozenset({"mine"}), parsed)
    again = selective.elsewhere(held, ["prod"], frozenset({"mine"}), parsed)
    assert first == again == selective.elsewhere(held, ["prod"], frozenset({"mine"}))
    assert [path for path, _ in first["prod"]] == [theirs]
    assert again["prod"][0][1] is first["prod"][0][1]  # the same parse
    files[theirs] = INGRESS.format(host="c.example").encode()
    changed = selective.elsewhere(held, ["prod"], frozenset({"mine"}), parsed)
    assert changed["prod"][0][1]["spec"]["rules"][0]["host"] == "c.example"


def test_a_recorded_ingress_stands_in_for_its_file_while_its_bytes_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The host check of another app's Ingress reads the routes its index records, not the file,
    as long as the file's bytes have the recorded digest; a changed file or a damaged record is
    parsed, and both give the check the same routes."""
    theirs = "kubernetes/prod/theirs/web/ingress-web.yaml"
    data = INGRESS.format(host="a.example").encode()
    entry = {"sha256": hashlib.sha256(data).hexdigest(), "routes": [["a.example", "/"]]}
    index = {"version": 5, "ingress": {"prod": {theirs: entry}}}
    files = {theirs: data, ".render/apps/theirs/index.json": json.dumps(index).encode()}
    held = writer.Held(files, lambda paths: {p: files[p] for p in paths if p in files})
    parses: list[str] = []
    parse = selective._objects
    monkeypatch.setattr(selective, "_objects", lambda data, rel: parses.append(rel) or parse(data, rel))

    def routes() -> list[tuple[str, str]]:
        found = selective.elsewhere(held, ["prod"], frozenset({"mine"}))["prod"]
        return [route for _, obj in found for route in collisions.ingress_routes(obj)]

    assert routes() == [("a.example", "/")] and parses == []  # recorded: not parsed
    files[theirs] = INGRESS.format(host="c.example").encode()  # changed since it was recorded
    assert routes() == [("c.example", "/")] and parses == [theirs]
    files[theirs] = data
    for damaged in ({"sha256": 1, "routes": []}, {"sha256": entry["sha256"], "routes": [["a"]]}, "x"):
        index["ingress"] = {"prod": {theirs: damaged}}
        files[".render/apps/theirs/index.json"] = json.dumps(index).encode()
        parses.clear()
        assert routes() == [("a.example", "/")] and parses == [theirs]
    files[".render/apps/theirs/index.json"] = b"{not json"
    assert routes() == [("a.example", "/")]


def test_a_publish_records_each_apps_ingress_routes_in_its_index(
    tmp_path: Path, bare_repo: Path, fleet_root: str
) -> None:
    first = write(tmp_path / "apps" / "first" / "score.yaml", ROUTE).parent
    _publish(fleet_root, bare_repo, [str(first)])
    path = "kubernetes/dev/first/web/ingress-web-route.yaml"
    index = json.loads(git("--git-dir", str(bare_repo), "show", "main:.render/apps/first/index.json"))
    stored = subprocess.run(
        ["git", "--git-dir", str(bare_repo), "show", f"main:{path}"], capture_output=True, check=True
    ).stdout
    assert index["version"] == 6
    blob = git("--git-dir", str(bare_repo), "rev-parse", f"main:{path}")
    assert index["ingress"]["dev"] == {
        path: {
            "sha256": hashlib.sha256(stored).hexdigest(),
            "blob": blob,
            "routes": [["shop.example.com", "/"]],
        }
    }


def test_a_recorded_ingress_whose_git_object_is_the_same_is_not_even_read() -> None:
    """git's index holds each file's object id: one equal to the recorded id means the recorded
    bytes, so the file is not read; another id (or none recorded) reads it, as before."""
    theirs = "kubernetes/prod/theirs/web/ingress-web.yaml"
    data = INGRESS.format(host="a.example").encode()
    entry = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "blob": blob_id(data),
        "routes": [["a.example", "/"]],
    }
    files = {
        theirs: data,
        ".render/apps/theirs/index.json": json.dumps(
            {"version": 6, "ingress": {"prod": {theirs: entry}}}
        ).encode(),
    }
    asked: list[str] = []

    def read(paths: Collection[str]) -> dict[str, bytes]:
        asked.extend(paths)
        return {p: files[p] for p in paths if p in files}

    def routes(blobs: dict[str, str]) -> list[tuple[str, str]]:
        asked.clear()
        found = selective.elsewhere(writer.Held(files, read, blobs), ["prod"], frozenset({"mine"}))["prod"]
        return [route for _, obj in found for route in collisions.ingress_routes(obj)]

    assert routes({theirs: blob_id(data)}) == [("a.example", "/")] and theirs not in asked
    assert routes({theirs: blob_id(b"other bytes")}) == [("a.example", "/")] and theirs in asked
    assert routes({}) == [("a.example", "/")] and theirs in asked
    files[theirs] = INGRESS.format(host="c.example").encode()  # changed: its id is another
    assert routes({theirs: blob_id(files[theirs])}) == [("c.example", "/")] and theirs in asked


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Each (environment, uid) resolved, in order (the real resolver, recorded)."""
    seen: list[tuple[str, str]] = []
    real = nodes._resolve_node

    def recorded(scope: Any, node: Any, done: Any) -> Any:
        seen.append((scope.graph.env.id, node.uid))
        return real(scope, node, done)

    monkeypatch.setattr(nodes, "_resolve_node", recorded)
    yield seen


def _db(folder: str, old: str, new: str) -> None:
    """The app asks for another shared database id."""
    _db_text(folder, f"id: {old}\n", f"id: {new}\n")


def _db_text(folder: str, old: str, new: str) -> None:
    path = Path(folder) / "score-w0.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _shareable(fleet_root: str) -> None:
    """Any app may share a database; the in-cluster one names its first requester."""
    definition = Path(fleet_root) / "platform-config" / "resources" / "postgres-in-cluster.yaml"
    for name in ("postgres-in-cluster.yaml", "postgres-rds.yaml"):
        shared = definition.with_name(name)
        shared.write_text(shared.read_text().replace("\ndriver: ", "\naccess: {shared: platform}\ndriver: "))
    first = "    annotations: {first: '{{ app }}'}\n"
    text = definition.read_text()
    definition.write_text(
        text.replace("    name: pg-{{ res.guid }}\n", f"    name: pg-{{{{ res.guid }}}}\n{first}", 1)
    )


def _shared_dbs(seen: list[tuple[str, str]], env: str) -> set[str]:
    return {uid.split("#")[1] for e, uid in seen if e == env and uid.startswith("postgres.default#")}


def test_one_app_publish_resolves_only_the_shared_resources_it_can_change(
    tmp_path: Path,
    bare_repo: Path,
    fleet_root: str,
    resolved: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An app's publish keeps the other apps' shared resources as stored: it resolves those it
    requests now or requested at its last publish, and the tree is the one a whole render gives,
    whichever requester comes first (what the definition says of its `app` below)."""
    _shareable(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), APPS, 1)
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)

    # svc-0001 shares svc-0000's database (first requester svc-0000) and leaves its own behind
    _db(folders[1], "svc-0001-db", "svc-0000-db")
    reference = _copy(bare_repo, "reference.git")
    resolved.clear()
    _publish(fleet_root, bare_repo, [folders[1]])
    assert _shared_dbs(resolved, "dev") == {"svc-0000-db"}  # the other apps' are kept as stored
    assert _shared_dbs(resolved, "staging") >= {"svc-0002-db"}  # Terraform: always resolved
    with monkeypatch.context() as m:
        _full(m)
        _publish(fleet_root, reference, [folders[1]])
    assert _trees(bare_repo) == _trees(reference)
    listed = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main").split()
    assert not [p for p in listed if "postgres-svc-0001-db/" in p]  # gone with its last requester
    assert [p for p in listed if p.startswith("kubernetes/dev/_shared/postgres-svc-0002-db/")]
    _merge_atlantis(bare_repo)
    _merge_atlantis(reference)

    # svc-0000 leaves its database: svc-0001 is its first requester now, and it changes
    _db(folders[0], "svc-0000-db", "svc-0000-own")
    resolved.clear()
    _publish(fleet_root, bare_repo, [folders[0]])
    assert _shared_dbs(resolved, "dev") == {"svc-0000-db", "svc-0000-own"}
    with monkeypatch.context() as m:
        _full(m)
        _publish(fleet_root, reference, [folders[0]])
    assert _trees(bare_repo) == _trees(reference)
    catalog = git("--git-dir", str(bare_repo), "show", "main:catalog/dev/_shared/catalog-info.yaml")
    assert catalog.count("kind: Resource") == APPS  # svc-0000-own, svc-0000-db, svc-0002-db, svc-0003-db


def test_a_definition_that_reads_every_workload_is_resolved_for_any_app(
    tmp_path: Path, bare_repo: Path, fleet_root: str, resolved: list[tuple[str, str]]
) -> None:
    definition = Path(fleet_root) / "platform-config" / "resources" / "postgres-in-cluster.yaml"
    text = definition.read_text()
    count = "    annotations: {peers: '{{ all_workloads | length }}'}\n"
    definition.write_text(
        text.replace("    name: pg-{{ res.guid }}\n", f"    name: pg-{{{{ res.guid }}}}\n{count}", 1)
    )
    folders = fleet.generate(str(tmp_path / "apps"), APPS, 1)
    _publish(fleet_root, bare_repo, folders)
    fleet.change_workload(folders[1])
    resolved.clear()
    _publish(fleet_root, bare_repo, [folders[1]])
    assert _shared_dbs(resolved, "dev") == {f"svc-{i:04d}-db" for i in range(APPS)}


def _stored(
    indexes: dict[str, object], focus: set[str], envs: list[str], loaded: set[str] | None = None
) -> Any:
    files = {f".render/apps/{app}/index.json": json.dumps(index).encode() for app, index in indexes.items()}
    files["kubernetes/dev/_shared/postgres-x/statefulset-x.yaml"] = b"kind: StatefulSet\n"
    files["kubernetes/dev/_shared/kustomization.yaml"] = b"resources: []\n"
    files["kubernetes/dev/app/w/deployment-w.yaml"] = b"kind: Deployment\n"
    held = writer.Held(files, lambda paths: {p: files[p] for p in paths if p in files})
    return selective.stored_shared(held, envs, frozenset(focus), set(indexes) if loaded is None else loaded)


def test_an_index_without_the_record_of_requests_renders_the_whole_shared_scope() -> None:
    """The record is per environment: an older index (or one from another environment) is
    'unknown', and the environment's shared scope is rendered whole; a new app requested nothing."""
    known = {"version": 6, "shared": {"dev": ["a#x"]}}
    assert _stored({"known": known}, {"known"}, ["dev"], None) != {}
    assert selective.stored_shared(writer.Held({}, lambda paths: {}), ["dev"], None, set()) == {}
    assert _stored({"old": {"version": 5}}, {"old"}, ["dev"]) == {}
    assert _stored({"bad": {"version": 6, "shared": {"dev": [1]}}}, {"bad"}, ["dev"]) == {}
    assert _stored({"known": known}, {"known"}, ["dev", "prod"]).keys() == {"dev"}
    # rendered in dev alone (its fingerprints say so) by a renderer that records: nothing in prod
    dev_only = {"version": 6, "platform": {"dev": "f"}, "shared": {"dev": ["a#x"]}}
    assert _stored({"known": dev_only}, {"known"}, ["dev", "prod"])["prod"].requested == set()
    assert _stored({"known": {**dev_only, "version": 5}}, {"known"}, ["dev", "prod"]).keys() == {"dev"}
    stored = _stored({"known": known}, {"known", "new"}, ["dev"])["dev"]
    assert stored.requested == {"a#x"} and stored.newer == set()
    assert stored.paths == (
        "kubernetes/dev/_shared/kustomization.yaml",
        "kubernetes/dev/_shared/postgres-x/statefulset-x.yaml",
    )
    assert stored.catalog is None


def test_other_apps_whose_inputs_are_newer_than_their_render_hold_what_they_read() -> None:
    """An app not rendered now whose stored inputs are not those its render in the environment came
    from is newer (and names itself): what it requested then is not a change, it holds it. One that
    no longer loads adds its recorded requests as changes, and holds them too."""
    current = {"version": 6, "digest": "d2", "published": {"dev": "d2"}, "shared": {"dev": ["a#x"]}}
    behind = {
        **current,
        "published": {"dev": "d1"},
        "shared": {"dev": ["a#y"]},
        "reads": {"dev": ["a#y", "i#z"]},
    }
    mine = {"version": 6, "digest": "m", "published": {"dev": "m"}, "shared": {"dev": []}}
    stored = _stored({"mine": mine, "same": current, "behind": behind}, {"mine"}, ["dev"])["dev"]
    assert stored.requested == set() and stored.newer == {"behind"}
    assert stored.held == {"a#y": ("behind",), "i#z": ("behind",)}
    broken = _stored({"mine": mine, "same": current}, {"mine"}, ["dev"], loaded={"mine"})["dev"]
    assert broken.requested == {"a#x"} and broken.newer == set() and broken.held == {"a#x": ("same",)}
    unknown = {**behind, "shared": {}}
    assert _stored({"mine": mine, "behind": unknown}, {"mine"}, ["dev"]) == {}


def test_a_stored_catalog_is_read_by_entity_name() -> None:
    files = {".render/apps/known/index.json": json.dumps({"version": 6, "shared": {"dev": []}}).encode()}
    held = writer.Held(files, lambda paths: {p: files[p] for p in paths if p in files})
    entity = (
        b"apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata: {name: shared.postgres.default.x}\n"
    )
    files["catalog/dev/_shared/catalog-info.yaml"] = entity
    stored = selective.stored_shared(held, ["dev"], frozenset({"known"}), {"known"})["dev"]
    assert list(catalog.stored_entities(stored.catalog, "c") or {}) == ["shared.postgres.default.x"]
    for damaged in (b"{not yaml", b"- a list\n", entity + b"---\n" + entity, b"kind: Resource\n", b"\xff"):
        assert catalog.stored_entities(damaged, "c") is None


def test_a_stored_catalog_not_of_this_render_renders_the_shared_scope_whole(
    tmp_path: Path, fleet_root: str, resolved: list[tuple[str, str]]
) -> None:
    platform = platform_config.load_platform(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), APPS, 1)
    apps = tuple(app_repo.load_apps(folders, fleet_root))
    focus = frozenset({"svc-0001"})
    whole = pipeline.run(platform, apps, ["dev"], pipeline.Options(focus=focus))
    assert _shared_dbs(resolved, "dev") == {f"svc-{i:04d}-db" for i in range(APPS)}
    # one that does not parse, and one an older renderer wrote (hyphen-joined names): a kept
    # resource's entity cannot be told apart from one that is not in it
    older = (
        b"apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata: {name: postgres-default-svc-0002-db}\n"
    )
    for stored_catalog in (b"{not yaml", older):
        damaged = StoredShared(frozenset({"postgres.default#svc-0001-db"}), (), stored_catalog)
        resolved.clear()
        again = pipeline.run(platform, apps, ["dev"], pipeline.Options(focus=focus, stored={"dev": damaged}))
        assert _shared_dbs(resolved, "dev") == {"svc-0001-db"} | {f"svc-{i:04d}-db" for i in range(APPS)}
        assert again.tree == whole.tree and again.envs[0].kept == ()


POOLED = """apiVersion: renderer.platform/v1
kind: ResourceDefinition
id: postgres-pooled-in-cluster
type: postgres
class: pooled
description: a database on the shared in-cluster instance
criteria:
  - env_type: development
driver: kubernetes
uses:
  instance: {type: postgres-instance, id: shared}
template: |
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: pooled-{{ res.guid }}
  data:
    host: {{ uses.instance.host }}
outputs:
  host: "{{ uses.instance.host }}"
  port: 5432
  username: "u"
secret_outputs:
  password:
    secret: "pooled-{{ res.guid }}"
    key: password
"""


def test_two_types_that_spell_one_shared_folder_are_rendered_together(
    tmp_path: Path, bare_repo: Path, fleet_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`postgres` `instance-shared` and `postgres-instance` `shared` write one folder: keeping one
    while rendering the other would drop the new files and list them anyway (a hostile review)."""
    (Path(fleet_root) / "platform-config" / "resources" / "postgres-pooled.yaml").write_text(POOLED)
    folders = fleet.generate(str(tmp_path / "apps"), APPS, 1)
    pool = "  pool:\n    type: postgres\n    class: pooled\n    id: pool-2\n  cache:\n"
    _db_text(folders[2], "  cache:\n", pool)
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)
    _db(folders[1], "svc-0001-db", "instance-shared")
    reference = _copy(bare_repo, "reference.git")
    _publish(fleet_root, bare_repo, [folders[1]])
    with monkeypatch.context() as m:
        _full(m)
        _publish(fleet_root, reference, [folders[1]])
    assert _trees(bare_repo) == _trees(reference)


PEERS = """apiVersion: renderer.platform/v1
kind: ResourceDefinition
id: peers-count
type: peers
description: how many workloads the environment has (a private fact)
driver: static
outputs:
  count: "{{ all_workloads | length }}"
"""

NOTE = """apiVersion: renderer.platform/v1
kind: ResourceDefinition
id: shared-note
type: note
description: a shared ConfigMap holding a note
driver: kubernetes
params_schema:
  type: object
  properties:
    text: {type: string}
template: |
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: note-{{ res.guid }}
  data:
    text: {{ res.params.text | tojson }}
outputs:
  name: "note-{{ res.guid }}"
"""


def test_a_private_resource_reading_every_workload_changes_the_shared_one_it_feeds(
    tmp_path: Path, bare_repo: Path, fleet_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = Path(fleet_root) / "platform-config" / "resources"
    (resources / "peers.yaml").write_text(PEERS)
    (resources / "note.yaml").write_text(NOTE)
    folders = fleet.generate(str(tmp_path / "apps"), 5, 1)
    note = "  peers:\n    type: peers\n  note:\n    type: note\n    id: note-2\n"
    note += '    params: {text: "peers=${resources.peers.count}"}\n  cache:\n'
    _db_text(folders[2], "  cache:\n", note)
    _publish(fleet_root, bare_repo, folders[:4])
    _merge_atlantis(bare_repo)
    reference = _copy(bare_repo, "reference.git")
    _publish(fleet_root, bare_repo, [folders[4]])  # a new app: one more workload everywhere
    with monkeypatch.context() as m:
        _full(m)
        _publish(fleet_root, reference, [folders[4]])
    assert _trees(bare_repo) == _trees(reference)


def test_an_app_published_to_another_environment_changes_nothing_shared_here_until_published_here(
    tmp_path: Path, bare_repo: Path, fleet_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """svc-0000 leaves the database it shares with svc-0001 for one of its own, published to
    staging only: its dev objects still read the shared one, which it named as first requester.
    svc-0002's dev publish leaves that database as it is and adds none of svc-0000's; svc-0000's
    own dev publish then changes both, as a full render does."""
    _shareable(fleet_root)
    folders = fleet.generate(str(tmp_path / "apps"), APPS, 1)
    _db(folders[1], "svc-0001-db", "svc-0000-db")
    _publish(fleet_root, bare_repo, folders)
    _merge_atlantis(bare_repo)

    def dev(folder: str) -> dict[str, str]:
        files = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main").split()
        below = f"kubernetes/dev/_shared/{folder}/"
        return {
            p: git("--git-dir", str(bare_repo), "show", f"main:{p}") for p in files if p.startswith(below)
        }

    shared = dev("postgres-svc-0000-db")
    assert shared and "first: svc-0000" in "".join(shared.values())
    _db(folders[0], "svc-0000-db", "svc-0000-own")
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("staging",))
    _merge_atlantis(bare_repo)
    fleet.change_workload(folders[2])
    _publish(fleet_root, bare_repo, [folders[2]], env_ids=("dev",))
    assert dev("postgres-svc-0000-db") == shared and dev("postgres-svc-0000-own") == {}
    reference = _copy(bare_repo, "reference.git")
    _publish(fleet_root, bare_repo, [folders[0]], env_ids=("dev",))
    assert "first: svc-0001" in "".join(dev("postgres-svc-0000-db").values()) and dev("postgres-svc-0000-own")
    with monkeypatch.context() as m:
        _full(m)
        _publish(fleet_root, reference, [folders[0]], env_ids=("dev",))
    assert _trees(bare_repo) == _trees(reference)


def test_each_index_is_read_and_parsed_once_per_run() -> None:
    files = {
        ".render/apps/a/index.json": json.dumps({"version": 6, "app": "a"}).encode(),
        ".render/apps/b/index.json": b"{damaged",
        ".render/apps/c/index.json": b"[1]",
    }
    reads: list[str] = []

    def read(paths: Collection[str]) -> dict[str, bytes]:
        reads.extend(paths)
        return {p: files[p] for p in paths if p in files}

    blobs = {p: blob_id(d) for p, d in files.items()}
    memo: bookkeeping.ParsedIndexes = {}
    first = bookkeeping.Indexes(read, blobs, memo)
    first.load(["a", "b", "c", "gone"])
    assert [first.get(app) for app in ("a", "b", "c", "gone")] == [{"version": 6, "app": "a"}, {}, {}, {}]
    assert sorted(reads) == sorted([*files, ".render/apps/gone/index.json"])
    first.get("a")
    assert len(reads) == 4  # parsed once
    # a later group of the same run: an index with the same object id is not read again
    files[".render/apps/c/index.json"] = json.dumps({"version": 6, "app": "c"}).encode()
    blobs[".render/apps/c/index.json"] = blob_id(files[".render/apps/c/index.json"])
    reads.clear()
    later = bookkeeping.Indexes(read, blobs, memo)
    assert later.get("a") == {"version": 6, "app": "a"} and later.get("c") == {"version": 6, "app": "c"}
    assert reads == [".render/apps/c/index.json"]
