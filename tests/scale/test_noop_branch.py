"""A no-op publish to a protected environment: its open MR branch already holds it, so no render."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from renderer import pipeline
from renderer.errors import PublishError
from renderer.inputs import app_repo, platform_config
from renderer.model import App, Platform
from renderer.publish import delivery
from tests.conftest import ROOT, git, init_bare
from tests.test_publish import make_app


@pytest.fixture(scope="module")
def platform() -> Platform:
    return platform_config.load_platform(str(ROOT))


def load(folder: Path) -> tuple[App, ...]:
    return app_repo.load_apps([str(folder)], str(ROOT))


def request(bare: Path, apps: tuple[App, ...], envs: tuple[str, ...], **extra: object) -> delivery.Request:
    """A publish of `apps` to `envs` of the repo `bare`, as these tests make it (checks skipped)."""
    return delivery.Request(
        url=str(bare),
        apps=apps,
        env_ids=envs,
        platform_digest="p1",
        skip_checks_for_tests=True,
        **extra,  # type: ignore[arg-type]
    )


def publish(
    platform: Platform, bare: Path, apps: tuple[App, ...], envs: tuple[str, ...]
) -> list[delivery.Outcome]:
    req = request(bare, apps, envs)
    return delivery.publish(platform, req, {"PATH": os.environ["PATH"]})


def test_an_unchanged_app_is_not_rendered_again_for_its_mr_branch(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = tmp_path / "apps"
    shop = load(make_app(apps, "shop", {"web": "hello"}))
    publish(platform, bare_repo, shop, ("dev",))  # main exists
    [first] = publish(platform, bare_repo, shop, ("prod",))
    assert first.commit and first.target == "render/prod/shop"
    renders: list[object] = []
    real = pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: renders.append(a) or real(*a, **k))
    [again] = publish(platform, bare_repo, shop, ("prod",))
    assert again.commit is None and renders == []  # up to date, decided without a render
    assert git("--git-dir", str(bare_repo), "rev-parse", "render/prod/shop") == first.commit
    changed = load(make_app(apps, "shop", {"web": "changed"}))
    [third] = publish(platform, bare_repo, changed, ("prod",))
    assert third.commit and len(renders) == 1  # a real change renders and pushes


def test_main_moved_under_the_branch_renders_again(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The branch was built on an older main: the render rebases it on the new one."""
    apps = tmp_path / "apps"
    shop = load(make_app(apps, "shop", {"web": "hello"}))
    publish(platform, bare_repo, shop, ("dev",))
    [first] = publish(platform, bare_repo, shop, ("prod",))
    publish(platform, bare_repo, load(make_app(apps, "cart", {"api": "hi"})), ("dev",))  # main moves
    renders: list[object] = []
    real = pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: renders.append(a) or real(*a, **k))
    [again] = publish(platform, bare_repo, shop, ("prod",))
    assert len(renders) == 1 and again.commit and again.commit != first.commit
    main = git("--git-dir", str(bare_repo), "rev-parse", "main")
    assert git("--git-dir", str(bare_repo), "rev-parse", "render/prod/shop^") == main


def test_a_no_op_publish_checks_out_nothing_and_groups_share_one_clone(
    tmp_path: Path, bare_repo: Path, platform: Platform
) -> None:
    """Up to date is decided from git's objects (the owners and the app's index), before any
    checkout; the direct group and each protected one reuse one clone."""
    shop = load(make_app(tmp_path / "apps", "shop", {"web": "hello"}))
    work = tmp_path / "work"
    req = request(bare_repo, shop, ("dev", "prod"))
    first = delivery.publish(platform, req, {"PATH": os.environ["PATH"]}, workdir=str(work))
    assert [o.target for o in first] == ["main", "render/prod/shop"] and all(o.commit for o in first)
    assert sorted(os.listdir(work)) == ["clone-0"]
    git("--git-dir", str(bare_repo), "update-ref", "refs/heads/main", "refs/heads/render/prod/shop")
    git("--git-dir", str(bare_repo), "branch", "-q", "-D", "render/prod/shop")  # the MR merged
    again_work = tmp_path / "again"
    again = delivery.publish(platform, req, {"PATH": os.environ["PATH"]}, workdir=str(again_work))
    assert [o.commit for o in again] == [None, None]
    assert os.listdir(again_work / "clone-0") == [".git"]  # nothing was checked out


def test_a_publish_fetches_main_s_head_not_its_history(
    tmp_path: Path, bare_repo: Path, platform: Platform
) -> None:
    """Every publish adds a commit: fetching them all made each publish slower as the environment
    repo aged. The clone holds main's head alone (`--depth 1`); the commit pushed on top of it
    keeps the remote's history whole."""
    environ = {"PATH": os.environ["PATH"]}
    for n, greeting in enumerate(("one", "two", "three")):
        req = request(bare_repo, load(make_app(tmp_path / "apps", "shop", {"web": greeting})), ("dev",))
        work = tmp_path / f"work-{n}"
        [outcome] = delivery.publish(platform, req, environ, workdir=str(work))
        assert outcome.commit
    clone = str(work / "clone-0")
    assert git("-C", clone, "rev-list", "--count", "HEAD") == "2"  # the new commit and the head it fetched
    fetched = git("--git-dir", str(bare_repo), "rev-parse", "main^")
    assert (work / "clone-0" / ".git" / "shallow").read_text().strip() == fetched
    assert git("--git-dir", str(bare_repo), "rev-list", "--count", "main") == "3"
    git("--git-dir", str(bare_repo), "fsck", "--no-progress", "--strict")  # nothing missing on the remote


def test_an_app_publish_fetches_only_the_file_contents_it_reads(
    tmp_path: Path, bare_repo: Path, platform: Platform
) -> None:
    """The environment repo serves clones without file contents (as GitLab does): an app's publish
    fetches main's commits and trees, then only the files it reads (the bookkeeping, what it
    checks against), each group in one request. The other app's manifests stay on the server, and
    the clone does not keep git's partial-clone settings, which would fetch a missing file by
    itself, one request per file."""
    environ = {"PATH": os.environ["PATH"]}
    shop = load(make_app(tmp_path / "apps", "shop", {"web": "hello"}))
    other = load(make_app(tmp_path / "apps", "other", {"api": "hi"}))
    first = request(bare_repo, shop + other, ("dev",))
    delivery.publish(platform, first, environ, workdir=str(tmp_path / "first"))
    shop = load(make_app(tmp_path / "apps", "shop", {"web": "changed"}))
    again = dataclasses.replace(first, apps=shop)
    work = tmp_path / "again"
    [outcome] = delivery.publish(platform, again, environ, workdir=str(work))
    assert outcome.commit and outcome.written
    clone = str(work / "clone-0")
    theirs = git(
        "--git-dir", str(bare_repo), "rev-parse", "main:kubernetes/dev/other/api/deployment-api.yaml"
    )
    mine = git("--git-dir", str(bare_repo), "rev-parse", "main:.render/apps/other/index.json")
    env = {"PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}

    def has(oid: str) -> bool:  # without partial-clone settings, asking fetches nothing
        return (
            subprocess.run(["git", "-C", clone, "cat-file", "-e", oid], env=env, check=False).returncode == 0
        )

    assert has(mine) and not has(theirs)
    assert "promisor" not in git("-C", clone, "config", "--list", "--local")
    git("--git-dir", str(bare_repo), "fsck", "--no-progress", "--strict")


def test_read_files_reads_from_objects_and_leaves_out_what_is_not_a_file(tmp_path: Path) -> None:
    from renderer.adapters import gitrepo

    repo = gitrepo.open_clone(str(tmp_path / "none.git"), str(tmp_path / "c"), "main", os.environ)
    files = {"d/a.json": b'{"x":\n1}\n\xff', "b": b""}
    head = gitrepo.commit_files(repo, None, files, (), "m", "a <a@b.invalid>")
    assert head
    found = gitrepo.read_files(repo, head, ["d/a.json", "missing", "d", "b", "d/a.json"])
    assert found == {"d/a.json": b'{"x":\n1}\n\xff', "b": b""}


def _served(tmp_path: Path, commits: int) -> tuple[Path, list[str]]:
    """A repo serving filtered fetches, with `commits` commits on main (one file each, and one
    file every commit keeps), and a branch `mr` made on main~3."""
    from renderer.adapters import gitrepo

    bare = init_bare(tmp_path / "served.git")
    repo = gitrepo.open_clone(str(bare), str(tmp_path / "writer"), "main", os.environ)
    heads: list[str] = []
    for n in range(commits):
        files = {f"f{n}": f"{n}\n".encode(), "kept": b"the same\n"}
        head = gitrepo.commit_files(repo, heads[-1] if heads else None, files, (), f"c{n}", "a <a@b.invalid>")
        assert head
        heads.append(head)
    mr = gitrepo.commit_files(repo, heads[-4], {"mr": b"mr\n"}, (), "mr", "a <a@b.invalid>")
    assert mr
    git(
        "-C",
        str(tmp_path / "writer"),
        "push",
        "-q",
        str(bare),
        f"{heads[-1]}:refs/heads/main",
        f"{mr}:refs/heads/mr",
    )
    return bare, heads


def test_a_branch_made_on_an_older_main_is_fetched_without_its_history(tmp_path: Path) -> None:
    """Into a clone of main's head alone, a branch made on an older main would bring every commit
    behind it; its tip is what the publish reads (its tree, files, parent ids)."""
    from renderer.adapters import gitrepo

    bare, heads = _served(tmp_path, 30)
    repo = gitrepo.open_clone(str(bare), str(tmp_path / "c"), "main", os.environ)
    assert gitrepo.fetch_head(repo, "main", history=False, blobs=False) == heads[-1]
    gitrepo.fetch_branch(repo, "mr", gitrepo.TIP)
    assert git("-C", str(tmp_path / "c"), "rev-list", "--count", "refs/remotes/origin/mr") == "1"
    assert gitrepo.parents(repo, "refs/remotes/origin/mr") == [heads[-4]]  # as recorded, not cut off
    assert gitrepo.read_files(repo, "refs/remotes/origin/mr", ["mr", "kept"]) == {
        "mr": b"mr\n",
        "kept": b"the same\n",
    }


def test_a_server_that_sends_no_file_by_its_id_gets_a_full_fetch(tmp_path: Path) -> None:
    """Protocol v0 without `uploadpack.allowAnySHA1InWant` serves filtered fetches but refuses
    objects asked for by id: the clone then fetches its branches whole, once, and reads on."""
    from renderer.adapters import gitrepo

    bare, heads = _served(tmp_path, 5)
    environ = {**os.environ, "GIT_CONFIG_PARAMETERS": "'protocol.version=0'"}
    repo = gitrepo.open_clone(str(bare), str(tmp_path / "c"), "main", environ)
    repo = dataclasses.replace(repo, env={**repo.env, "GIT_CONFIG_PARAMETERS": "'protocol.version=0'"})
    gitrepo.fetch_head(repo, "main", history=False, blobs=False)
    unread = git("--git-dir", str(bare), "rev-parse", "main:f0")
    assert gitrepo._missing(repo, [unread]) == [unread]  # fetched without file contents
    assert gitrepo.read_files(repo, heads[-1], ["f4", "kept"]) == {"f4": b"4\n", "kept": b"the same\n"}
    assert gitrepo._missing(repo, [unread]) == []  # the full fetch brought the rest too
    with pytest.raises(gitrepo.GitError, match="not an object id"):
        gitrepo.ensure(repo, ["origin/main:kept"])


def test_a_partial_checkout_does_not_ask_the_server_for_a_submodule_commit(tmp_path: Path) -> None:
    """A submodule entry (by hand: the renderer writes none) names a commit of another repository:
    the checkout writes an empty folder for it, and `ensure` must not ask this server for it."""
    from renderer.adapters import gitrepo

    bare, heads = _served(tmp_path, 4)
    writer = tmp_path / "writer"
    elsewhere = "1234567890123456789012345678901234567890"
    git("-C", str(writer), "read-tree", heads[-1])
    git("-C", str(writer), "update-index", "--add", "--cacheinfo", f"160000,{elsewhere},sub")
    tree = git("-C", str(writer), "write-tree")
    commit = git("-C", str(writer), "commit-tree", tree, "-p", heads[-1], "-m", "a submodule")
    git("-C", str(writer), "push", "-q", str(bare), f"{commit}:refs/heads/main")
    repo = gitrepo.open_clone(str(bare), str(tmp_path / "c"), "main", os.environ)
    head = gitrepo.fetch_head(repo, "main", history=False, blobs=False)
    assert head == commit
    gitrepo.checkout_part(repo, "main", head, lambda path: "/" not in path)
    assert (tmp_path / "c" / "kept").read_bytes() == b"the same\n" and (tmp_path / "c" / "sub").is_dir()


def test_a_second_partial_checkout_writes_only_what_changed(tmp_path: Path) -> None:
    """The next delivery group checks out the commit the first one pushed: only the files that
    differ are written again (a file left as the first checkout wrote it stays untouched), the
    ones gone are removed, and a file that became a link with the same bytes is a link."""
    from renderer.adapters import gitrepo

    bare = init_bare(tmp_path / "served.git")
    writer = gitrepo.open_clone(str(bare), str(tmp_path / "writer"), "main", os.environ)
    files = {"a/x": b"1\n", "a/y": b"same\n", "a/gone": b"g\n", "a/m": b"target", "b/hidden": b"h\n"}
    first = gitrepo.commit_files(writer, None, files, (), "c1", "a <a@b.invalid>")
    assert first
    second = gitrepo.commit_files(
        writer, first, {"a/x": b"2\n", "a/w": b"new\n"}, ["a/gone"], "c2", "a <a@b.invalid>"
    )
    assert second
    link = git("-C", str(tmp_path / "writer"), "ls-tree", second, "a/m").split()[2]
    git("-C", str(tmp_path / "writer"), "read-tree", second)
    git("-C", str(tmp_path / "writer"), "update-index", "--cacheinfo", f"120000,{link},a/m")
    tree = git("-C", str(tmp_path / "writer"), "write-tree")
    second = git("-C", str(tmp_path / "writer"), "commit-tree", tree, "-p", second, "-m", "a link")
    git("-C", str(tmp_path / "writer"), "push", "-q", str(bare), f"{second}:refs/heads/main")

    repo = gitrepo.open_clone(str(bare), str(tmp_path / "c"), "main", os.environ)
    assert gitrepo.fetch_head(repo, "main", history=True, blobs=False) == second
    wanted = lambda path: path.startswith("a/")  # noqa: E731
    out = tmp_path / "c"
    gitrepo.checkout_part(repo, "main", first, wanted)
    assert (out / "a/x").read_bytes() == b"1\n" and not (out / "b/hidden").exists()
    (out / "a/y").write_bytes(b"as left\n")  # stands for "not written again"
    gitrepo.checkout_part(repo, "main", second, wanted)
    assert (out / "a/x").read_bytes() == b"2\n" and (out / "a/w").read_bytes() == b"new\n"
    assert not (out / "a/gone").exists() and (out / "a/m").is_symlink()
    assert (out / "a/y").read_bytes() == b"as left\n"
    gitrepo.checkout(repo, "main", second)  # writes everything: the next partial checkout does too
    (out / "a/y").write_bytes(b"as left\n")
    gitrepo.checkout_part(repo, "main", second, wanted)
    assert (out / "a/y").read_bytes() == b"same\n"
    shutil.rmtree(out)  # a new clone at the same path knows nothing of the old one's files
    repo = gitrepo.open_clone(str(bare), str(out), "main", os.environ)
    gitrepo.fetch_head(repo, "main", history=False, blobs=False)
    gitrepo.checkout_part(repo, "main", second, wanted)
    assert (out / "a/y").read_bytes() == b"same\n"


def _listing(path: Path) -> tuple[list[str], dict[str, tuple[str, str, bool]]]:
    """A checkout's files on disk, and what `gitrepo.index` says it holds: the whole tree of its
    commit (`ls-tree`), of which git's own index (`ls-files`) holds exactly the entries not left
    out of the checkout."""
    from renderer.adapters import gitrepo

    disk = sorted(str(p.relative_to(path)) for p in path.rglob("*") if ".git" not in p.parts and p.is_file())
    staged, tree = {}, {}
    for entry in git("-C", str(path), "ls-files", "-s", "-z").split("\0"):
        if entry:  # "<mode> <object> <stage>\t<path>"
            meta, _, rel = entry.partition("\t")
            mode, oid, _ = meta.split(" ")
            staged[rel] = (mode, oid)
    for entry in git("-C", str(path), "ls-tree", "-r", "-z", "HEAD").split("\0"):
        if entry:  # "<mode> <type> <object>\t<path>"
            meta, _, rel = entry.partition("\t")
            mode, _, oid = meta.split(" ")
            tree[rel] = (mode, oid)
    listed = gitrepo.index(str(path))
    assert {p: e[:2] for p, e in listed.items()} == tree
    assert {p: e[:2] for p, e in listed.items() if not e[2]} == staged
    return disk, listed


def test_a_second_partial_checkout_changes_the_index_as_a_fresh_one_would(tmp_path: Path) -> None:
    """On the commit the first group pushed, `checkout_part` changes only the entries that differ
    between the two commits (additions, changes, removals, a file that became a folder and back,
    hidden and shown ones): the index (`ls-files`, and `index`, which answers from what it
    kept) and the files on disk are those of a fresh clone's checkout. Once something else
    rewrote the index (`atlantis.split_commit` reads a tree into it), `index` still answers with
    the commit's tree, and the next checkout makes the index afresh; once something moved HEAD,
    `index` answers with HEAD's tree."""
    from renderer.adapters import gitrepo

    bare = init_bare(tmp_path / "served.git")
    writer = gitrepo.open_clone(str(bare), str(tmp_path / "writer"), "main", os.environ)
    files = {
        "a/x": b"1\n",
        "a/y": b"same\n",
        "a/gone": b"g\n",
        "a/f": b"file\n",
        "b/h": b"h\n",
        "b/k": b"k\n",
    }
    first = gitrepo.commit_files(writer, None, files, (), "c1", "a <a@b.invalid>")
    assert first
    changes = {"a/x": b"2\n", "a/new": b"n\n", "a/f/inside": b"folder\n", "b/h": b"h2\n", "b/n": b"n\n"}
    second = gitrepo.commit_files(writer, first, changes, ["a/gone", "a/f", "b/k"], "c2", "a <a@b.invalid>")
    assert second
    third = gitrepo.commit_files(
        writer, second, {"a/f": b"file again\n"}, ["a/f/inside"], "c3", "a <a@b.invalid>"
    )
    assert third
    git("-C", str(tmp_path / "writer"), "push", "-q", str(bare), f"{third}:refs/heads/main")
    wanted = lambda path: path.startswith("a/")  # noqa: E731

    def fresh(name: str, head: str) -> tuple[str, dict[str, tuple[str, str, bool]]]:
        repo = gitrepo.open_clone(str(bare), str(tmp_path / name), "main", os.environ)
        gitrepo.fetch_head(repo, "main", history=True, blobs=False)
        gitrepo.checkout_part(repo, "main", head, wanted)
        return _listing(tmp_path / name)

    repo = gitrepo.open_clone(str(bare), str(tmp_path / "c"), "main", os.environ)
    gitrepo.fetch_head(repo, "main", history=True, blobs=False)
    for n, head in enumerate((first, second, third, first)):
        before = gitrepo._parts.get(os.path.realpath(repo.path))
        gitrepo.checkout_part(repo, "main", head, wanted)
        assert before is None or before.head != head  # each step goes the incremental way
        assert _listing(tmp_path / "c") == fresh(f"fresh{n}", head), n
    kept = gitrepo.index(str(tmp_path / "c"))
    git("-C", str(tmp_path / "c"), "read-tree", second)  # the index rewritten by someone else
    assert gitrepo.index(str(tmp_path / "c")) == kept  # still the commit's whole tree
    gitrepo.checkout_part(repo, "main", third, wanted)
    assert _listing(tmp_path / "c") == fresh("fresh-last", third)
    git("-C", str(tmp_path / "c"), "update-ref", "refs/heads/main", second)  # HEAD moved by someone
    assert gitrepo.index(str(tmp_path / "c")) == fresh("fresh-moved", second)[1]


@pytest.mark.parametrize("kind", ["link", "folder"])
def test_an_owners_record_that_is_not_a_file_refuses_before_any_shortcut(
    tmp_path: Path, bare_repo: Path, platform: Platform, kind: str
) -> None:
    """Read from git's objects, `.render/owners.json` as a symlink (whose target text is valid
    JSON) or a folder is damaged, as a checkout's confined read says: an impostor is refused, not
    let through or told "up to date"."""
    from renderer.publish.identity import Identity

    shop = load(make_app(tmp_path / "apps", "shop", {"web": "hello"}))

    def as_(who: str) -> list[delivery.Outcome]:
        req = request(bare_repo, shop, ("dev",), identity=Identity(who, False, "gitlab-id-token"))
        return delivery.publish(platform, req, {"PATH": os.environ["PATH"]})

    as_("team-a/shop")
    work = tmp_path / "w"
    git("clone", "-q", str(bare_repo), str(work))
    owners = work / ".render" / "owners.json"
    owners.unlink()
    if kind == "link":
        owners.symlink_to('{"version": 1, "apps": {}, "resources": {}}')
    else:
        owners.mkdir()
        (owners / "x").write_text("x")
    git("-C", str(work), "add", "-A")
    git("-C", str(work), "-c", "user.name=x", "-c", "user.email=x@y.invalid", "commit", "-qm", "break")
    git("-C", str(work), "push", "-q", "origin", "main")
    head = git("--git-dir", str(bare_repo), "rev-parse", "main")
    for who in ("team-b/impostor", "team-a/shop"):  # unchanged inputs: the shortcut must not answer first
        with pytest.raises(PublishError, match=r"owners.json is damaged \(not a regular file\)"):
            as_(who)
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == head


def test_a_later_group_fetches_again_when_main_moved_after_the_first_fetched(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The protected group takes main's head from the direct group only while the remote still has
    it: another publisher's push in between is fetched, and the MR branch is built on it."""
    apps = tmp_path / "apps"
    shop = load(make_app(apps, "shop", {"web": "hello"}))
    publish(platform, bare_repo, shop, ("dev",))  # dev is up to date for the next publish
    real = delivery._publish_group
    pushed: list[str] = []

    def then_another_publisher(*args: object, **kwargs: object) -> delivery.Outcome:
        outcome = real(*args, **kwargs)  # type: ignore[arg-type]
        if not pushed:  # after the direct group (nothing to push): cart lands on main
            pushed.append("")  # once (the other publisher's own groups come through here too)
            publish(platform, bare_repo, load(make_app(apps, "cart", {"api": "hi"})), ("dev",))
            pushed[0] = git("--git-dir", str(bare_repo), "rev-parse", "main")
        return outcome

    monkeypatch.setattr(delivery, "_publish_group", then_another_publisher)
    direct, prod = publish(platform, bare_repo, shop, ("dev", "prod"))
    assert direct.commit is None and prod.commit and prod.target == "render/prod/shop"
    assert git("--git-dir", str(bare_repo), "rev-parse", "render/prod/shop^") == pushed[0]


def test_a_later_group_builds_on_what_the_first_pushed_without_fetching_it_back(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = tmp_path / "apps"
    publish(platform, bare_repo, load(make_app(apps, "shop", {"web": "hello"})), ("dev",))
    fetched = _fetches(monkeypatch)
    changed = load(make_app(apps, "shop", {"web": "changed"}))
    direct, prod = publish(platform, bare_repo, changed, ("dev", "prod"))
    assert direct.commit and prod.commit and fetched == ["main"]  # the direct group's fetch alone
    assert git("--git-dir", str(bare_repo), "rev-parse", "render/prod/shop^") == direct.commit
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == direct.commit


def _fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The branches `gitrepo.fetch_head` fetches from now on (it still fetches them)."""
    from renderer.adapters import gitrepo

    seen: list[str] = []
    real = gitrepo.fetch_head

    def fetch_head(repo: gitrepo.Repo, branch: str, *args: bool, **kwargs: bool) -> str | None:
        seen.append(branch)
        return real(repo, branch, *args, **kwargs)

    monkeypatch.setattr(gitrepo, "fetch_head", fetch_head)
    return seen


def _early_publish(
    platform: Platform, bare: Path, apps: tuple[App, ...], work: Path, **extra: object
) -> tuple[list[delivery.Outcome], list[str]]:
    """A publish given main's head fetched early (as `renderer publish` starts it); the clones
    made in `work`."""
    from renderer.adapters import gitrepo
    from renderer.publish import workspace

    started: list[workspace.Early] = []
    workspace.fetch_early(str(bare), str(work), os.environ, gitrepo.DEFAULT_TIMEOUT, started)
    [early] = started
    req = request(bare, apps, ("dev",), **extra)
    environ = {"PATH": os.environ["PATH"]}
    try:
        outcomes = delivery.publish(platform, req, environ, workdir=str(work), early=early)
    finally:
        early.cancel()
    return outcomes, [p.name for p in work.iterdir()]


def test_main_fetched_early_is_taken_while_it_is_main_s_head(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One app's publish takes main's head from the early fetch (no fetch of its own), and so does
    `--all-apps` (it reads none of the files of the apps it does not render); one whose main moved
    after that fetch fetches again, and one that reads all of main (a render step that checks
    everything out, as a preview's) ends the early fetch and clones as always."""
    from renderer.adapters import gitrepo

    apps = tmp_path / "apps"
    shop = load(make_app(apps, "shop", {"web": "hello"}))
    publish(platform, bare_repo, shop, ("dev",))
    fetched = _fetches(monkeypatch)
    [same], clones = _early_publish(platform, bare_repo, shop, tmp_path / "w1")
    assert same.commit is None and fetched == [] and clones == ["clone-early"]
    changed = load(make_app(apps, "shop", {"web": "changed"}))
    [moved] = _early_publish(platform, bare_repo, changed, tmp_path / "w2")[0]
    assert moved.commit and fetched == []  # took the early head, rendered, pushed on it
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == moved.commit

    real = gitrepo.Pending.wait

    def main_moves_meanwhile(pending: gitrepo.Pending) -> str | None:
        head = real(pending)
        publish(platform, bare_repo, load(make_app(apps, "cart", {"api": "hi"})), ("dev",))
        fetched.clear()  # that publish's own fetch
        return head

    monkeypatch.setattr(gitrepo.Pending, "wait", main_moves_meanwhile)
    again = load(make_app(apps, "shop", {"web": "again"}))
    [late] = _early_publish(platform, bare_repo, again, tmp_path / "w3")[0]
    assert fetched == ["main"] and late.commit  # main moved: fetched again, nothing lost
    assert git("--git-dir", str(bare_repo), "rev-parse", f"{late.commit}^") != moved.commit
    stored = git("--git-dir", str(bare_repo), "ls-tree", "--name-only", "main:.render/apps").split()
    assert stored == ["cart", "shop"]  # the other publisher's app is kept
    monkeypatch.setattr(gitrepo.Pending, "wait", real)
    fetched.clear()
    [every], clones = _early_publish(platform, bare_repo, (), tmp_path / "w4", all_apps=True)
    assert every.commit is None and fetched == [] and clones == ["clone-early"]
    whole = delivery._render_into  # as given by a preview: the render step checks everything out
    [again_shop], clones = _early_publish(platform, bare_repo, again, tmp_path / "w5", render_into=whole)
    assert again_shop.commit is None and fetched == ["main"] and sorted(clones) == ["clone-0", "clone-early"]


def test_an_early_fetch_of_an_empty_remote_leaves_the_publish_to_fetch(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = _fetches(monkeypatch)
    shop = load(make_app(tmp_path / "apps", "shop", {"web": "hello"}))
    [first] = _early_publish(platform, bare_repo, shop, tmp_path / "w")[0]
    assert first.commit and fetched == ["main"]


def test_a_cancelled_early_fetch_leaves_no_git_behind(tmp_path: Path, bare_repo: Path) -> None:
    from renderer.adapters import gitrepo
    from renderer.publish import workspace

    started: list[workspace.Early] = []
    workspace.fetch_early(str(bare_repo), str(tmp_path), os.environ, gitrepo.DEFAULT_TIMEOUT, started)
    [early] = started
    proc = early.pending.proc
    assert proc is not None
    early.cancel()
    assert proc.returncode is not None and early.pending.proc is None  # ended and waited for
    assert early.head(())[1] is None and isinstance(early.repo, gitrepo.Repo)


def test_an_early_fetch_ended_mid_transfer_leaves_the_publish_a_fresh_clone(
    tmp_path: Path, bare_repo: Path, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An early fetch that ran past its timeout is ended mid-transfer, leaving git's
    `shallow.lock` in its clone: the publish fetches into a clone of its own, not that one."""
    from renderer.adapters import gitrepo

    shop = load(make_app(tmp_path / "apps", "shop", {"web": "hello"}))
    publish(platform, bare_repo, shop, ("dev",))

    def timed_out(pending: gitrepo.Pending) -> str | None:
        pending.cancel()
        (Path(pending.repo.path) / ".git" / "shallow.lock").write_text("")
        return None

    monkeypatch.setattr(gitrepo.Pending, "wait", timed_out)
    fetched = _fetches(monkeypatch)
    changed = load(make_app(tmp_path / "apps", "shop", {"web": "changed"}))
    [outcome], clones = _early_publish(platform, bare_repo, changed, tmp_path / "w")
    assert outcome.commit and fetched == ["main"] and sorted(clones) == ["clone-0", "clone-early"]


def test_signals_nested_in_the_cli_s_handlers_say_where_they_struck_and_fire_once() -> None:
    """The CLI's handlers (`LOADING`) stay in force inside a publish's, which only rewords them;
    once one signal has raised, a second does not cut the clean-up short."""
    import signal

    from renderer.publish import workspace

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    loading = pytest.raises(workspace.Interrupted, match="SIGTERM: nothing was published")
    with loading, workspace.signals_as_errors(workspace.LOADING):
        os.kill(os.getpid(), signal.SIGTERM)
    publishing = pytest.raises(workspace.Interrupted, match="SIGINT: the clone was removed")
    with workspace.signals_as_errors(workspace.LOADING):
        with publishing, workspace.signals_as_errors():
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)  # the clean-up after it: not interrupted again
    after = pytest.raises(workspace.Interrupted, match="SIGTERM: the clone was removed")
    with after, workspace.signals_as_errors(workspace.LOADING):
        with workspace.signals_as_errors():
            pass  # a publish that returned: "nothing was published" is no longer sure
        os.kill(os.getpid(), signal.SIGTERM)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert workspace._handling == []


def test_an_interruption_while_the_early_clone_is_made_ends_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone that cannot be made leaves the publish to make its own; a signal while it is made
    (`Interrupted`, a `PublishError` too) is not taken for that, or the run would go on."""
    from renderer.adapters import gitrepo
    from renderer.publish import workspace

    def failing(error: Exception) -> None:
        def open_clone(*args: object, **kwargs: object) -> gitrepo.Repo:
            raise error

        monkeypatch.setattr(gitrepo, "open_clone", open_clone)

    started: list[workspace.Early] = []
    failing(gitrepo.GitError("init", "other", "cannot"))
    workspace.fetch_early("/nowhere.git", str(tmp_path), os.environ, 5.0, started)
    assert started == []
    failing(workspace.Interrupted("interrupted by SIGTERM: nothing was published"))
    with pytest.raises(workspace.Interrupted):
        workspace.fetch_early("/nowhere.git", str(tmp_path), os.environ, 5.0, started)


@pytest.mark.parametrize("when", ["before", "after"])
def test_git_interrupted_while_it_starts_is_ended_or_never_started(
    when: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interruption while the helper thread starts (before or after it ran) leaves no process:
    the one started is ended, or none starts once the caller gave up."""
    import threading

    from renderer.adapters import gitrepo
    from renderer.publish import workspace

    real = threading.Thread.start
    owned: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []

    def start(thread: threading.Thread) -> None:
        if when == "after":
            real(thread)
            deadline = time.monotonic() + 10
            while not owned and time.monotonic() < deadline:  # the helper has started the process
                time.sleep(0.01)
        raise workspace.Interrupted("interrupted by SIGTERM")

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(workspace.Interrupted):
        gitrepo._start(["sleep", "30"], dict(os.environ), subprocess.DEVNULL, owner=owned.append)
    monkeypatch.setattr(threading.Thread, "start", real)
    if when == "after":
        [proc] = owned
        assert proc.returncode is not None  # ended and reaped
    else:
        assert owned == []


def _tree(repo: Path, entries: list[str]) -> str:
    """A tree object from `mktree` lines ("<mode> <type> <object>\\t<name>"): git checks no name."""
    out = subprocess.run(
        ["git", "-C", str(repo), "mktree"], input="\n".join(entries) + "\n", capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("where", ["written", "left out"])
def test_a_path_git_refuses_to_check_out_is_named(tmp_path: Path, where: str) -> None:
    """A tree changed by hand may hold a path git refuses to check out (`git~1`, NTFS's short
    name of `.git`). Among the files a partial checkout writes, it is refused by name (git's index
    would leave it out and say so only on stderr); among those left out, nobody reads it from
    disk: the checkout goes on, as the commit is built over the tree without checking it out."""
    from renderer.adapters import gitrepo

    bare = init_bare(tmp_path / "served.git")
    work = tmp_path / "writer"
    git("init", "-q", str(work))
    blob = subprocess.run(
        ["git", "-C", str(work), "hash-object", "-w", "--stdin"], input="x\n", capture_output=True, text=True
    ).stdout.strip()
    bad = _tree(work, [f"100644 blob {blob}\tno space left on device"])  # a name that spells an error
    inner = _tree(work, [f"040000 tree {bad}\tgit~1", f"100644 blob {blob}\tfine"])
    deep = _tree(work, [f"040000 tree {inner}\tc"])
    top = "040000 tree {inner}\t.render" if where == "written" else "040000 tree {deep}\tapps"
    root = _tree(work, [top.format(inner=inner, deep=deep), f"100644 blob {blob}\tok"])
    who = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    commit = git("-C", str(work), *who, "commit-tree", root, "-m", "by hand")
    git("-C", str(work), "push", "-q", str(bare), f"{commit}:refs/heads/main")
    repo = gitrepo.open_clone(str(bare), str(tmp_path / "c"), "main", os.environ)
    head = gitrepo.fetch_head(repo, "main", history=False, blobs=False)
    assert head == commit
    wanted = lambda path: path.startswith(".render/") or "/" not in path  # noqa: E731
    if where == "written":
        with pytest.raises(gitrepo.GitError, match=r"main's tree holds '.render/git~1/no space") as refused:
            gitrepo.checkout_part(repo, "main", head, wanted)
        assert refused.value.kind == "other"  # not "disk": the kind is not read from a path's name
        return
    gitrepo.checkout_part(repo, "main", head, wanted)
    assert (tmp_path / "c" / "ok").read_text() == "x\n"
    assert "apps/c/git~1/no space left on device" in gitrepo.index(str(tmp_path / "c"))
