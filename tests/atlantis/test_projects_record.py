"""Each environment's record of its Terraform projects (`.render/projects/<env>.json`): a publish
reads only the projects whose file changed since the record, and derives the same atlantis.yaml
as one that reads them all."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

from renderer import __version__
from renderer.data import blob_id
from renderer.inputs import platform_config
from renderer.model import Platform
from renderer.publish import writer
from tests.conftest import ROOT, git, run_renderer
from tests.test_publish import merge_terraform, show, store_app

RECORD = f"{writer.PROJECTS}/dev.json"


def project(*modules: str) -> bytes:
    calls = {m: {"source": f"../modules/{m}"} for m in modules}
    return json.dumps({"module": calls, "terraform": {}}, sort_keys=True).encode()


class Repo:
    """An environment repo's files as git holds them: bytes, and the object ids `Held.blobs` gives."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = dict(files)
        self.reads: list[str] = []

    def held(self) -> writer.Held:
        def read(paths: Collection[str]) -> dict[str, bytes]:
            self.reads += sorted(paths)
            return {p: self.files[p] for p in paths if p in self.files}

        return writer.Held(set(self.files), read, {p: blob_id(d) for p, d in self.files.items()})

    def plan(
        self, platform: Platform, tree: Mapping[str, bytes], apps: list[str], env: str | None = "dev"
    ) -> None:
        """A publish of `apps` to `env` (None: a writer that keeps no record)."""
        prefixes = [f"terraform/{env}/{a}/" for a in apps]
        record = (env,) if env else ()
        result = writer.plan_rendered(tree, prefixes, platform, self.held(), self.same, record=record)
        for path in result.deleted:
            del self.files[path]
        self.files.update(result.data)

    def same(self, path: str, data: bytes) -> bool:
        return self.files.get(path) == data


@pytest.fixture(scope="module")
def platform() -> Platform:
    return platform_config.load_platform(str(ROOT))


def fleet(platform: Platform, n: int = 20) -> Repo:
    repo = Repo({})
    tree = {
        f"terraform/dev/app{i:02}/main.tf.json": project(*(["bucket"] if i % 2 else [])) for i in range(n)
    }
    repo.plan(platform, tree, [f"app{i:02}" for i in range(n)])
    return repo


def derived_from_scratch(platform: Platform, repo: Repo) -> bytes:
    """atlantis.yaml as a publish that reads every project derives it (no record)."""
    files = {p: d for p, d in repo.files.items() if not p.startswith(".render/")}
    fresh = Repo({p: d for p, d in files.items() if p != "atlantis.yaml"})
    fresh.plan(platform, {}, [], env=None)
    return fresh.files["atlantis.yaml"]


def test_the_record_names_each_project_by_its_object_id_and_modules(platform: Platform) -> None:
    repo = fleet(platform, 3)
    recorded = json.loads(repo.files[RECORD])
    assert recorded == {
        "version": 1,
        "renderer": __version__,
        "projects": {
            f"app{i:02}": {
                "blob": blob_id(repo.files[f"terraform/dev/app{i:02}/main.tf.json"]),
                "modules": ["bucket"] if i % 2 else [],
            }
            for i in range(3)
        },
    }
    # a record per environment, written by the publishes to it: merge requests of two environments
    # do not conflict on it, nor does one rewrite the other's
    assert sorted(p for p in repo.files if p.startswith(".render/")) == [RECORD]
    dev = repo.files[RECORD]
    repo.plan(platform, {"terraform/staging/app01/main.tf.json": project()}, ["app01"], env="staging")
    assert repo.files[RECORD] == dev
    assert json.loads(repo.files[f"{writer.PROJECTS}/staging.json"])["projects"] == {
        "app01": {"blob": blob_id(project()), "modules": []}
    }


def test_a_publish_of_one_app_reads_only_its_own_project(platform: Platform) -> None:
    repo = fleet(platform)
    repo.reads.clear()
    repo.plan(platform, {"terraform/dev/app03/main.tf.json": project("bucket", "queue")}, ["app03"])
    assert not [p for p in repo.reads if p.endswith("main.tf.json")]
    atlantis = repo.files["atlantis.yaml"]
    assert b"../modules/queue" in atlantis or b"modules/queue/" in atlantis
    assert atlantis == derived_from_scratch(platform, repo)


def test_a_project_changed_behind_the_record_is_read_again(platform: Platform) -> None:
    repo = fleet(platform)
    repo.files["terraform/dev/app04/main.tf.json"] = project("queue")  # by hand, or an Atlantis branch
    repo.reads.clear()
    repo.plan(platform, {"terraform/dev/app05/main.tf.json": project()}, ["app05"])
    assert [p for p in repo.reads if p.endswith("main.tf.json")] == ["terraform/dev/app04/main.tf.json"]
    assert repo.files["atlantis.yaml"] == derived_from_scratch(platform, repo)
    assert json.loads(repo.files[RECORD])["projects"]["app04"]["modules"] == ["queue"]


@pytest.mark.parametrize(
    "damaged",
    [
        b"{not json",
        b"\xff\xfe",
        b"[" * 100_000,
        json.dumps({"version": 2, "projects": {}}).encode(),
        json.dumps({"version": 1, "projects": []}).encode(),
        json.dumps({"version": 1, "projects": {"app01": {"blob": 7, "modules": []}}}).encode(),
        json.dumps({"version": 1, "projects": {"app01": {"blob": "x", "modules": [1]}}}).encode(),
        json.dumps({"version": 1, "projects": {"app01": "x"}}).encode(),
        # as a record that would mislead: another renderer's, or modules not as `used_modules` says
        json.dumps(
            {"version": 1, "renderer": "0.0.1", "projects": {"app01": {"blob": "@", "modules": []}}}
        ).encode(),
        json.dumps(
            {
                "version": 1,
                "renderer": __version__,
                "projects": {"app01": {"blob": "@", "modules": ["b", "a"]}},
            }
        ).encode(),
        json.dumps(
            {
                "version": 1,
                "renderer": __version__,
                "projects": {"app01": {"blob": "@", "modules": ["a", "a"]}},
            }
        ).encode(),
        json.dumps(
            {"version": 1, "renderer": __version__, "projects": {"app01": {"blob": "@", "modules": ["a/b"]}}}
        ).encode(),
    ],
)
def test_a_damaged_record_says_nothing(platform: Platform, damaged: bytes) -> None:
    repo = fleet(platform)
    repo.files["terraform/dev/app01/main.tf.json"] = project("queue")  # the record would mislead
    blob = blob_id(repo.files["terraform/dev/app01/main.tf.json"])
    repo.files[RECORD] = damaged.replace(b'"@"', json.dumps(blob).encode())
    repo.plan(platform, {"terraform/dev/app05/main.tf.json": project()}, ["app05"])
    assert repo.files["atlantis.yaml"] == derived_from_scratch(platform, repo)
    assert json.loads(repo.files[RECORD])["version"] == 1  # written again, whole


def test_a_publish_records_git_s_own_object_ids(bare_repo: Path, tmp_path: Path) -> None:
    app = store_app(tmp_path)
    argv = ("publish", "--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "dev")
    done = run_renderer(*argv, "--app", str(app))
    assert done.returncode == 0, done.stderr
    # the record stays with main's part: the Atlantis branch never changes it (no conflict on it)
    branch = "atlantis/dev/store"
    assert git("--git-dir", str(bare_repo), "diff", "--name-only", "main", branch, "--", ".render/") == ""
    assert merge_terraform(bare_repo) == [f"refs/heads/{branch}"]
    recorded = json.loads(show(bare_repo, RECORD))["projects"]
    main_file = git("--git-dir", str(bare_repo), "rev-parse", "main:terraform/dev/store/main.tf.json")
    assert recorded["store"]["blob"] == main_file.strip()
    assert recorded["store"]["modules"]


def test_the_record_alone_makes_no_commit(platform: Platform) -> None:
    repo = fleet(platform)
    recorded = json.loads(repo.files[RECORD])
    del recorded["projects"]["app03"]  # as after an Atlantis merge request merged its project
    repo.files[RECORD] = json.dumps(recorded).encode()
    held = repo.held()
    result = writer.plan_rendered({}, [], platform, held, repo.same, record=("dev",))
    assert (result.written, result.deleted) == ((), ())
    repo.plan(platform, {"terraform/dev/app05/main.tf.json": project("queue")}, ["app05"])
    assert "app03" in json.loads(repo.files[RECORD])["projects"]  # brought up to date by a change
