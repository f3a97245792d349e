"""`publish --shard I/N` and `--merge-shards`: a real bare environment repo, the example apps and
generated ones; the merged commit's tree equals an unsharded publish's, whatever N."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, git, init_bare, run_renderer, write
from tests.generated import SCORE

GENERATED = 9


def publish(root: Path, bare: Path, *args: str) -> str:
    result = run_renderer("publish", "--root", str(root), "--env-repo", str(bare), "--env", "dev", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def tree(bare: Path, ref: str = "main") -> str:
    return git("--git-dir", str(bare), "rev-parse", f"{ref}^{{tree}}")


def heads(bare: Path) -> str:
    return git("--git-dir", str(bare), "for-each-ref", "--format=%(refname) %(objectname)")


def copy(bare: Path, dest: Path) -> Path:
    shutil.copytree(bare, dest)
    return dest


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An environment repo holding the example apps and generated ones, published with the shipped
    platform; and a platform root whose dev environment changed (every app renders again)."""
    base = tmp_path_factory.mktemp("fleet")
    bare = base / "env.git"
    init_bare(bare)
    folders = [str(ROOT / "examples" / "apps" / name) for name in ("billing", "shop")]
    for i in range(GENERATED):
        app = f"gen-{i:02d}"
        score = SCORE.format(app=app)
        if i % 4 == 0:  # the baseline policies warn about it in dev: warnings from several shards
            score = score.replace(":1.0.0", ":latest")
        write(base / "apps" / app / "score.yaml", score)
        folders.append(str(base / "apps" / app))
    publish(ROOT, bare, *[a for f in folders for a in ("--app", f)])
    changed = base / "platform"
    for name in ("environments", "platform-config", "policies"):
        shutil.copytree(ROOT / name, changed / name)
    dev = changed / "environments" / "dev.yaml"
    text = dev.read_text(encoding="utf-8")
    dev.write_text(text.replace("LOG_LEVEL: debug", "LOG_LEVEL: info").replace("dev.apps.", "dev2.apps."))
    return bare, changed


def warnings(stdout: str) -> list[str]:
    [outcome] = json.loads(stdout)
    return sorted(outcome["warnings"])


@pytest.fixture(scope="module")
def unsharded(fleet: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    bare, platform = fleet
    target = copy(bare, tmp_path_factory.mktemp("unsharded") / "env.git")
    found = warnings(publish(platform, target, "--all-apps", "--format", "json"))
    assert tree(target) != tree(bare)  # the platform change reached the output
    assert found  # dev warns (policies: warn): the merge must report the same
    return target, found


def shard_all(platform: Path, bare: Path, total: int, out: Path) -> None:
    for index in range(1, total + 1):
        stdout = publish(platform, bare, "--all-apps", "--shard", f"{index}/{total}", "--shard-dir", str(out))
        assert f"shard-{index}-of-{total}.json" in stdout


@pytest.mark.parametrize("total", [1, 2, 3])
def test_sharded_publish_commits_the_unsharded_tree(
    fleet: tuple[Path, Path], unsharded: tuple[Path, list[str]], tmp_path: Path, total: int
) -> None:
    bare, platform = fleet
    target = copy(bare, tmp_path / "env.git")
    before = heads(target)
    shard_all(platform, target, total, tmp_path / "shards")
    assert heads(target) == before  # a shard pushes nothing
    manifests = [json.loads(p.read_text()) for p in sorted((tmp_path / "shards").iterdir())]
    apps = [a for m in manifests for a in m["apps"]]
    assert sorted(apps) == sorted({*apps}) and len(apps) == GENERATED + 2  # each app in one shard
    stdout = publish(
        platform, target, "--all-apps", "--merge-shards", str(tmp_path / "shards"), "--format", "json"
    )
    reference, found = unsharded
    assert warnings(stdout) == found
    refs = [line.split()[0] for line in heads(reference).splitlines()]
    assert refs == [line.split()[0] for line in heads(target).splitlines()]
    for ref in refs:  # main and the Terraform branch Atlantis plans
        assert tree(target, ref) == tree(reference, ref), ref


def test_an_app_published_after_the_shards_is_checked_in_the_merge(
    fleet: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, platform = fleet
    target = copy(bare, tmp_path / "env.git")
    shard_all(platform, target, 2, tmp_path / "shards")
    write(tmp_path / "late" / "score.yaml", SCORE.format(app="late"))
    publish(platform, target, "--app", str(tmp_path / "late"))  # main moved: a new app
    reference = copy(target, tmp_path / "reference.git")
    publish(platform, reference, "--all-apps")
    publish(platform, target, "--all-apps", "--merge-shards", str(tmp_path / "shards"))
    assert tree(target) == tree(reference)


@pytest.fixture(scope="module")
def two_shards(fleet: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    bare, platform = fleet
    out = tmp_path_factory.mktemp("two") / "shards"
    shard_all(platform, bare, 2, out)
    return out


def refused(platform: Path, bare: Path, shards: Path) -> tuple[int, str]:
    before = heads(bare)
    result = run_renderer(
        "publish", "--root", str(platform), "--env-repo", str(bare), "--env", "dev", "--all-apps",
        "--merge-shards", str(shards),
    )  # fmt: skip
    assert heads(bare) == before  # nothing pushed
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr


def test_a_missing_shard_is_refused(fleet: tuple[Path, Path], two_shards: Path, tmp_path: Path) -> None:
    bare, platform = fleet
    only = tmp_path / "shards"
    only.mkdir()
    shutil.copy(two_shards / "shard-2-of-2.json", only)
    code, err = refused(platform, bare, only)
    assert code == 2 and "shard 1/2 missing; nothing was pushed" in err


def test_a_shard_given_twice_is_refused(fleet: tuple[Path, Path], two_shards: Path, tmp_path: Path) -> None:
    bare, platform = fleet
    dup = shutil.copytree(two_shards, tmp_path / "shards")
    shutil.copy(two_shards / "shard-2-of-2.json", dup / "shard-02-of-2.json")
    code, err = refused(platform, bare, dup)
    assert code == 2 and "shard 2/2 given twice; nothing was pushed" in err


def test_shards_of_different_splits_are_refused(
    fleet: tuple[Path, Path], two_shards: Path, tmp_path: Path
) -> None:
    bare, platform = fleet
    mixed = shutil.copytree(two_shards, tmp_path / "shards")
    data = json.loads((mixed / "shard-2-of-2.json").read_text())
    (mixed / "shard-1-of-1.json").write_text(json.dumps({**data, "index": 1, "total": 1, "apps": {}}))
    code, err = refused(platform, bare, mixed)
    assert code == 2 and "shards of different splits ([1, 2])" in err


def edited(two_shards: Path, tmp_path: Path, change: str) -> Path:
    out = shutil.copytree(two_shards, tmp_path / "shards")
    path = out / "shard-1-of-2.json"
    data = json.loads(path.read_text())
    app = sorted(data["apps"])[0]
    files = data["apps"][app]["files"]
    first = sorted(files)[0]
    if change == "hash":
        files[first] = "0" * 64
    elif change == "path":
        files["kubernetes/dev/someone-else/x.yaml"] = files.pop(first)
    else:
        data["apps"][app]["digest"] = "not a digest"
    path.write_text(json.dumps(data))
    return out


def test_a_file_its_shard_did_not_check_is_refused(
    fleet: tuple[Path, Path], two_shards: Path, tmp_path: Path
) -> None:
    bare, platform = fleet
    code, err = refused(platform, bare, edited(two_shards, tmp_path, "hash"))
    assert code == 3 and "renders differently from what its shard checked (1 files, first " in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("path", "is not the app's"),
        ("schema", "'not a digest' does not match '^[0-9a-f]{64}$'"),
    ],
)
def test_a_manifest_out_of_bounds_is_refused(
    fleet: tuple[Path, Path], two_shards: Path, tmp_path: Path, change: str, message: str
) -> None:
    bare, platform = fleet
    code, err = refused(platform, bare, edited(two_shards, tmp_path, change))
    assert code == 3 and message in err and "shard-1-of-2.json" in err
