"""`.render/` bookkeeping across publishes: environments one after another, recorded images,
`--destroyed` with `--app`, and tombstones of projects whose module configured its own provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from renderer.adapters import gitrepo
from renderer.adapters.gitrepo import GitError
from renderer.errors import EXIT_USAGE, InputError
from renderer.inputs import app_repo
from renderer.inputs.app_repo import STORED_INDEX
from renderer.model import Limits
from renderer.publish import bookkeeping
from tests.conftest import git, write
from tests.test_publish import SIMPLE, files_at, log, make_app, merge_terraform, pub, show, store_app

BUILT_HERE = """apiVersion: score.dev/v1b1
metadata:
  name: web
containers:
  main:
    image: .
"""


def test_environments_in_turn_commit_nothing_the_second_time(bare_repo: Path, tmp_path: Path) -> None:
    app = make_app(tmp_path / "apps", "turns", {"alpha": "hi"})
    for env in ("dev", "staging"):
        assert pub("--env-repo", str(bare_repo), "--app", str(app), "--env", env).returncode == 0
    heads = log(bare_repo)
    assert len(heads) == 2
    for env in ("dev", "staging", "dev"):
        again = pub("--env-repo", str(bare_repo), "--app", str(app), "--env", env)
        assert again.returncode == 0, again.stderr
        assert "up to date, no commit" in again.stdout
    assert log(bare_repo) == heads
    index = json.loads(show(bare_repo, f"{bookkeeping.STORE}/turns/index.json"))
    assert index["version"] == bookkeeping.INDEX_VERSION
    assert sorted(index["outputs"]) == sorted(index["published"]) == ["dev", "staging"]
    assert index["published"]["dev"] == index["published"]["staging"] == index["digest"]


def test_an_image_given_once_stays_with_its_app(bare_repo: Path, tmp_path: Path) -> None:
    built = tmp_path / "apps" / "built"
    write(built / "score.yaml", BUILT_HERE)
    first = pub(
        "--env-repo", str(bare_repo), "--app", str(built), "--env", "dev", "--image", "reg.example/web:1"
    )
    assert first.returncode == 0, first.stderr
    other = make_app(tmp_path / "apps", "other", {"alpha": "hi"})
    second = pub("--env-repo", str(bare_repo), "--app", str(other), "--env", "dev")
    assert second.returncode == 0, second.stderr
    assert "image: reg.example/web:1" in show(bare_repo, "kubernetes/dev/built/web/deployment-web.yaml")
    index = json.loads(show(bare_repo, f"{bookkeeping.STORE}/built/index.json"))
    assert index["images"] == {"": "reg.example/web:1"}
    platform_wide = pub("--env-repo", str(bare_repo), "--all-apps", "--env", "dev")
    assert platform_wide.returncode == 0, platform_wide.stderr
    assert json.loads(show(bare_repo, f"{bookkeeping.STORE}/built/index.json"))["images"] == index["images"]


def test_destroyed_is_refused_where_the_publish_does_not_own_the_project(
    bare_repo: Path, tmp_path: Path
) -> None:
    store = store_app(tmp_path)
    assert pub("--env-repo", str(bare_repo), "--app", str(store), "--env", "dev").returncode == 0
    merge_terraform(bare_repo)
    assert pub("--env-repo", str(bare_repo), "--remove-app", "store", "--env", "dev").returncode == 0
    merge_terraform(bare_repo)
    heads = log(bare_repo)
    other = make_app(tmp_path / "apps", "other", {"alpha": "hi"})
    refused = pub(
        "--env-repo", str(bare_repo), "--app", str(other), "--env", "dev", "--destroyed", "dev/store"
    )
    assert refused.returncode == EXIT_USAGE, refused.stderr
    assert (
        "--destroyed dev/store: this publish does not own terraform/dev/store/main.tf.json" in refused.stderr
    )
    assert log(bare_repo) == heads and "terraform/dev/store/main.tf.json" in files_at(bare_repo)


def test_destroyed_is_refused_for_a_project_still_rendered(bare_repo: Path, tmp_path: Path) -> None:
    store = store_app(tmp_path)
    assert pub("--env-repo", str(bare_repo), "--app", str(store), "--env", "dev").returncode == 0
    merge_terraform(bare_repo)
    write(
        store / "score.yaml",
        SIMPLE.format(name="files", tag="2", greeting="x") + "resources:\n  bucket:\n    type: s3\n",
    )
    refused = pub(
        "--env-repo", str(bare_repo), "--app", str(store), "--env", "dev", "--destroyed", "dev/store"
    )
    assert refused.returncode == EXIT_USAGE, refused.stderr
    assert "--destroyed dev/store: the app still renders Terraform there" in refused.stderr


def test_an_emptied_project_keeps_the_provider_its_module_configured(bare_repo: Path, tmp_path: Path) -> None:
    app = tmp_path / "apps" / "ledger"
    database = "resources:\n  db:\n    type: postgres\n"
    write(app / "score.yaml", SIMPLE.format(name="books", tag="1", greeting="x") + database)
    args = ("--env-repo", str(bare_repo), "--app", str(app), "--env", "staging")
    assert pub(*args).returncode == 0
    merge_terraform(bare_repo)
    project = "terraform/staging/ledger/main.tf.json"
    (call,) = json.loads(show(bare_repo, project))["module"].values()
    assert call["source"] == "../modules/postgres-database"
    write(app / "score.yaml", SIMPLE.format(name="books", tag="1", greeting="x"))
    emptied = pub(*args)
    assert emptied.returncode == 0, emptied.stderr
    merge_terraform(bare_repo)
    tombstone = json.loads(show(bare_repo, project))
    assert tombstone["//"] == bookkeeping.EMPTIED and "backend" in tombstone["terraform"]
    (kept,) = tombstone["module"].values()
    assert kept == {**call, "source": "../modules/postgres-database/emptied"}
    variant = json.loads(show(bare_repo, "terraform/staging/modules/postgres-database/emptied/main.tf.json"))
    assert "postgresql" in variant["provider"] and "aws_db_instance" in variant["data"]
    assert (
        "resource" not in variant and "output" not in variant and "instance_identifier" in variant["variable"]
    )
    again = pub(*args, "--allow-mass-delete")  # a re-publish keeps the tombstone as it is
    assert again.returncode == 0 and json.loads(show(bare_repo, project)) == tombstone
    gone = pub(*args, "--destroyed", "staging/ledger")
    assert gone.returncode == 0, gone.stderr
    merge_terraform(bare_repo)
    assert project not in files_at(bare_repo)


def test_a_stored_app_loads_again_only_when_its_folder_changed(tmp_path: Path) -> None:
    """The second delivery group reuses the first one's loads, keyed by the folder's files but the
    index (a platform-wide publish rewrites every index: the apps are not read again for it)."""
    root = tmp_path / "clone"
    for name in ("steady", "moving"):
        write(root / bookkeeping.STORE / name / "score.yaml", SCORE.format(name=name, image="nginx:1"))
    git("init", "-q", str(root))
    git("-C", str(root), "add", "-A")
    git("-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    loaded: bookkeeping.Loaded = {}
    limits = Limits()
    first, _ = bookkeeping.stored_apps(gitrepo.local(str(root)), limits, loaded)
    write(root / bookkeeping.STORE / "moving" / "score.yaml", SCORE.format(name="moving", image="nginx:2"))
    write(root / bookkeeping.STORE / "broken" / "score.yaml", "containers: [")
    write(root / bookkeeping.STORE / "steady" / STORED_INDEX, '{"version": 6}')
    git("-C", str(root), "add", "-A")
    git("-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "two")
    again, broken = bookkeeping.stored_apps(gitrepo.local(str(root)), limits, loaded)
    assert again["steady"] is first["steady"]  # the same tree: not read again
    assert again["moving"] is not first["moving"]
    assert again["moving"].workloads[0].spec["containers"]["main"]["image"] == "nginx:2"
    assert list(broken) == ["broken"]
    fresh, _ = bookkeeping.stored_apps(gitrepo.local(str(root)), limits)  # no memo: the same result
    assert {k: a.files for k, a in fresh.items()} == {k: a.files for k, a in again.items()}


def _stored_clone(tmp_path: Path, files: dict[str, str]) -> gitrepo.Repo:
    """A clone of an environment repo holding `files`, fetched without file contents (as a
    publish fetches main) and with the settings that fetch leaves dropped, as `fetch_head` does."""
    source = tmp_path / "source"
    for rel, text in files.items():
        write(source / rel, text)
    git("init", "-q", "-b", "main", str(source))
    git("-C", str(source), "add", "-A")
    git("-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    bare = tmp_path / "env.git"
    git("clone", "-q", "--bare", str(source), str(bare))
    git("--git-dir", str(bare), "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    git("clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{bare}", str(clone))
    repo = gitrepo.local(str(clone))
    gitrepo._forget_promisor(repo)
    return repo


def test_a_stored_file_over_the_size_limit_is_never_read_from_a_clone_without_contents(
    tmp_path: Path,
) -> None:
    """A blob-less clone cannot tell a file's size from its tree (`ls-tree -l` says `BAD`): the
    sizes of the files it lacks are asked once fetched, and one over `limits.file_bytes` is still
    not read into memory; the app is refused by that file's name, as on disk. A file or a link
    where an app's folder belongs is an app whose inputs no longer load (its output is kept)."""
    big = SCORE.format(name="big", image="nginx:1") + "#" * 5000 + "\n"
    repo = _stored_clone(
        tmp_path,
        {
            f"{bookkeeping.STORE}/big/score.yaml": big,
            f"{bookkeeping.STORE}/good/score.yaml": SCORE.format(name="good", image="nginx:1"),
            f"{bookkeeping.STORE}/not-a-folder": "x",
        },
    )
    assert "BAD" in git("-C", repo.path, "ls-tree", "-r", "-l", "HEAD")  # the premise
    found = gitrepo.folders(repo, bookkeeping.STORE)
    assert found["big"]["score.yaml"][2] == len(big)
    limits = Limits(file_bytes=4000)
    read = bookkeeping.read_inputs(repo, found, limits)
    assert read["big"]["score.yaml"][1] is None
    assert read["good"]["score.yaml"][1] == SCORE.format(name="good", image="nginx:1").encode()
    apps, broken = bookkeeping.stored_apps(repo, limits)
    assert sorted(apps) == ["good"] and sorted(broken) == ["big", "not-a-folder"]
    assert "is larger than 4000 bytes" in broken["big"][0].message


def test_a_store_git_cannot_list_stops_the_publish(tmp_path: Path) -> None:
    """Not "nothing stored": a publish that carried on would render without every other app."""
    root = tmp_path / "clone"
    write(root / bookkeeping.STORE / "good" / "score.yaml", SCORE.format(name="good", image="nginx:1"))
    git("init", "-q", str(root))
    git("-C", str(root), "add", "-A")
    git("-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    repo = gitrepo.local(str(root))
    tree = git("-C", str(root), "rev-parse", f"HEAD:{bookkeeping.STORE}")
    (root / ".git" / "objects" / tree[:2] / tree[2:]).unlink()  # a damaged repo: the commit is there
    with pytest.raises(GitError):
        bookkeeping.stored_apps(repo, Limits())
    empty = tmp_path / "empty"
    git("init", "-q", str(empty))
    assert bookkeeping.stored_apps(gitrepo.local(str(empty)), Limits()) == ({}, {})  # no commit yet


def test_a_file_source_written_with_a_backslash_is_stored_by_the_name_it_was_read_by(tmp_path: Path) -> None:
    """`conf\\a.txt` is read as `conf/a.txt` (a backslash separates parts): stored under the
    backslashed name, the copy never loaded again, and every later publish skipped the app."""
    app = tmp_path / "apps" / "slash"
    score = (
        SCORE.format(name="web", image="nginx:1")
        + "    files:\n      /etc/a.txt:\n        source: 'conf\\a.txt'\n"
    )
    write(app / "score.yaml", score)
    write(app / "conf" / "a.txt", "hello\n")
    (loaded,) = app_repo.load_apps([str(app)], str(tmp_path))
    assert sorted(loaded.files) == ["conf/a.txt", "score.yaml"]
    stored = {rel: ("100644", data) for rel, data in loaded.files.items()}
    again = app_repo.load_listed(str(app), str(tmp_path), stored)
    assert again.files == loaded.files
    assert again.workloads[0].sources == loaded.workloads[0].sources == {"conf\\a.txt": b"hello\n"}


def test_a_score_file_named_with_a_backslash_is_refused(tmp_path: Path) -> None:
    """Listed as `score\\x.yaml` but opened as `score/x.yaml`: it published, stored by the parts,
    and the stored app never loaded again (every later publish skipped it, its output frozen)."""
    app = tmp_path / "apps" / "slash"
    write(app / "score\\x.yaml", "not read\n")
    write(app / "score" / "x.yaml", SCORE.format(name="web", image="nginx:1"))
    with pytest.raises(InputError) as err:
        app_repo.load_apps([str(app)], str(tmp_path))
    (problem,) = err.value.problems()
    assert (problem.file, problem.message) == (
        "apps/slash/score\\x.yaml",
        "the name holds a backslash, which is read as a folder separator",
    )


SCORE = """apiVersion: score.dev/v1b1
metadata:
  name: {name}
containers:
  main:
    image: {image}
"""
