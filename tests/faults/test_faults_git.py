"""Faults while publishing, with real git: a bare repo as the remote, or `git http-backend` on
loopback; each fault injected where it happens (a concurrent push, a hook, a closed port, a full
disk, a slow remote), and what the renderer then does: retry, stop naming why, or succeed."""

from __future__ import annotations

import base64
import errno
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from click.testing import Result

from renderer.adapters import gitrepo
from renderer.errors import EXIT_PUBLISH, EXIT_USAGE, PublishError
from renderer.publish import delivery
from tests.conftest import ROOT, git, init_bare, run_renderer, write
from tests.faults.git_http import GitHttp
from tests.faults.helpers import clones, greeting, head, hook, make_app, platform, publish, refs, request

TOKEN = "glpat-fault-test-token-0001"


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp dir publish clones into, private to the test, so what it leaves there shows."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _other_push(tmp_path: Path, bare: Path, name: str) -> str:
    """Another publisher's commit, pushed to main while ours is in flight."""
    checkout = tmp_path / f"other-{name}"
    git("clone", "-q", str(bare), str(checkout))
    write(checkout / "notes" / f"{name}.txt", name)
    git("add", "-A", cwd=checkout)
    git("-c", "user.name=o", "-c", "user.email=o@o", "commit", "-qm", name, cwd=checkout)
    git("push", "-q", "origin", "HEAD:main", cwd=checkout)
    return git("rev-parse", "HEAD", cwd=checkout)


def _after_first_commit(monkeypatch: pytest.MonkeyPatch, action: Callable[[], str]) -> list[str]:
    """Run `action` once, right after the renderer's first commit and before its push."""
    done: list[str] = []
    real = gitrepo.commit_files

    def commit_then_interfere(
        repo: gitrepo.Repo,
        parent: str | None,
        files: Mapping[str, bytes],
        deleted: Sequence[str],
        message: str,
        author: str,
    ) -> str | None:
        commit = real(repo, parent, files, deleted, message, author)
        if not done:
            done.append(action())
        return commit

    monkeypatch.setattr(delivery.gitrepo, "commit_files", commit_then_interfere)
    return done


def _count(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_concurrent_push_means_fetch_render_and_push_again(
    tmp_path: Path, tmp: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(str(bare_repo), make_app(tmp_path, "one"))
    raced = _after_first_commit(monkeypatch, lambda: _other_push(tmp_path, bare_repo, "rival"))
    renders = _count(monkeypatch, delivery.pipeline, "run")
    pushes = _count(monkeypatch, delivery.gitrepo, "push_cas")
    [outcome] = publish(str(bare_repo), make_app(tmp_path, "two"))
    assert (outcome.attempts, len(renders), len(pushes)) == (2, 2, 2)
    assert head(bare_repo) == outcome.commit and greeting(bare_repo) == "two"
    git("--git-dir", str(bare_repo), "merge-base", "--is-ancestor", raced[0], "main")  # nothing lost
    assert git("--git-dir", str(bare_repo), "show", "main:notes/rival.txt") == "rival"
    assert clones(tmp) == []


def test_history_rewritten_under_us_is_rendered_on_afresh(
    tmp_path: Path, tmp: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone force-pushes an unrelated history between our fetch and our push: the lease
    refuses our push, and the next attempt renders on top of what the remote now holds."""
    publish(str(bare_repo), make_app(tmp_path, "one"))
    old = head(bare_repo)

    def rewrite() -> str:
        other = tmp_path / "rewrite"
        git("init", "-q", "-b", "main", str(other))
        write(other / "README", "a new beginning\n")
        git("add", "-A", cwd=other)
        git("-c", "user.name=o", "-c", "user.email=o@o", "commit", "-qm", "rewrite", cwd=other)
        git("push", "-q", "--force", str(bare_repo), "main", cwd=other)
        return git("rev-parse", "HEAD", cwd=other)

    rewritten = _after_first_commit(monkeypatch, rewrite)
    [outcome] = publish(str(bare_repo), make_app(tmp_path, "two"))
    assert outcome.attempts == 2 and head(bare_repo) == outcome.commit
    roots = git("--git-dir", str(bare_repo), "rev-list", "--max-parents=0", "main")
    assert roots == rewritten[0]  # built on the rewritten history ...
    assert old not in git("--git-dir", str(bare_repo), "rev-list", "main").split()  # ... not the old one
    assert greeting(bare_repo) == "two"
    assert git("--git-dir", str(bare_repo), "show", "main:README") == "a new beginning"
    git("--git-dir", str(bare_repo), "fsck", "--strict")


def test_a_declining_hook_is_named_and_not_retried(
    tmp_path: Path, tmp: Path, bare_repo: Path, cli: Callable[..., Result]
) -> None:
    publish(str(bare_repo), make_app(tmp_path, "one"))
    before = refs(bare_repo)
    tries = tmp_path / "tries"
    hook(
        bare_repo, "pre-receive", f"echo x >> {tries}\necho 'rejected: locked for maintenance' >&2\nexit 1\n"
    )
    args = ("--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "dev", "--quiet")  # the error alone
    result = cli("publish", *args, "--app", str(make_app(tmp_path, "two")))
    assert result.exit_code == EXIT_PUBLISH
    assert result.output.startswith(
        "error: git push failed: a hook on the remote declined it; not retried: To "
    ), result.output
    assert "remote: rejected: locked for maintenance" in result.output
    assert "[remote rejected] (pre-receive hook declined)" in result.output
    assert tries.read_text() == "x\n"  # one push, no retry
    assert refs(bare_repo) == before and clones(tmp) == []


def test_a_remote_path_that_does_not_exist(tmp_path: Path, tmp: Path) -> None:
    missing = tmp_path / "nowhere.git"
    with pytest.raises(PublishError) as err:
        publish(str(missing), make_app(tmp_path, "one"))
    assert str(err.value) == (
        "git ls-remote failed: repository not found; not retried: check --env-repo and that the "
        f"credentials may see it: fatal: '{missing}' does not appear to be a git repository\n"
        "fatal: Could not read from remote repository.\n\n"
        "Please make sure you have the correct access rights\nand the repository exists."
    )
    assert err.value.exit_code == EXIT_PUBLISH and clones(tmp) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_remote_is_a_network_error(tmp_path: Path, cli: Callable[..., Result]) -> None:
    port = _closed_port()
    url = f"http://127.0.0.1:{port}/x.git"
    args = ("--root", str(ROOT), "--env-repo", url, "--env", "dev", "--app", str(make_app(tmp_path, "one")))
    result = cli("publish", *args, "--quiet")
    assert result.exit_code == EXIT_PUBLISH
    assert re.fullmatch(
        rf"error: git ls-remote failed: a network or server error: fatal: unable to access '{url}/': "
        rf"Failed to connect to 127\.0\.0\.1 port {port}.*\n",
        result.output,
    ), result.output


def test_disk_full_while_writing_the_checkout(
    tmp_path: Path, tmp: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(str(bare_repo), make_app(tmp_path, "one"))
    before = refs(bare_repo)

    def full(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device", "kubernetes/dev/shop/web/deployment-web.yaml")

    monkeypatch.setattr(delivery.writer, "plan_rendered", full)
    with pytest.raises(PublishError) as err:
        publish(str(bare_repo), make_app(tmp_path, "two"))
    assert re.fullmatch(
        rf"writing the clone under {re.escape(str(tmp))}/renderer-publish-\w+ failed: No space left on "
        r"device \(kubernetes/dev/shop/web/deployment-web\.yaml\); nothing was pushed",
        str(err.value),
    )
    assert err.value.exit_code == EXIT_PUBLISH
    assert refs(bare_repo) == before and clones(tmp) == []


def test_an_os_error_that_is_not_the_disk_stays_a_bug(
    tmp_path: Path, tmp: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a full, read-only or failing disk becomes a publish failure; anything else is ours."""

    def broken(*args: object, **kwargs: object) -> object:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "x")

    monkeypatch.setattr(delivery.writer, "plan_rendered", broken)
    with pytest.raises(FileNotFoundError):
        publish(str(bare_repo), make_app(tmp_path, "one"))
    assert clones(tmp) == []


def test_a_push_that_times_out_after_landing_succeeds(tmp_path: Path, bare_repo: Path) -> None:
    """The remote took the push, then its post-receive hook hangs: the renderer asks and finds it."""
    publish(str(bare_repo), make_app(tmp_path, "one"))
    hook(bare_repo, "post-receive", "sleep 300\n")
    started = time.monotonic()
    args = ("--root", str(ROOT), "--env-repo", str(bare_repo), "--env", "dev", "--format", "json")
    result = run_renderer(
        "publish", *args, "--app", str(make_app(tmp_path, "two")), env={"RENDERER_GIT_TIMEOUT": "3"}
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 120  # the hanging hook (300 s) was ended, not waited for
    assert f'"commit": "{head(bare_repo)}"' in result.stdout and greeting(bare_repo) == "two"


def test_a_push_that_times_out_before_landing_fails(tmp_path: Path, tmp: Path, bare_repo: Path) -> None:
    publish(str(bare_repo), make_app(tmp_path, "one"))
    before = refs(bare_repo)
    hook(bare_repo, "pre-receive", "sleep 30\n")
    with pytest.raises(PublishError) as err:
        publish(str(bare_repo), make_app(tmp_path, "two"), git_timeout=2)
    assert re.fullmatch(
        r"git push failed: no answer in time: gave up after 2 s \(RENDERER_GIT_TIMEOUT\); "
        r"main on the remote does not have [0-9a-f]{12}",
        str(err.value),
    )
    assert refs(bare_repo) == before and clones(tmp) == []


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf", "nan"])
def test_a_timeout_must_be_a_positive_number(
    value: str, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, bare_repo: Path
) -> None:
    monkeypatch.setenv("RENDERER_GIT_TIMEOUT", value)
    result = cli("publish", "--root", str(ROOT), "--env-repo", str(bare_repo), "--all-apps")
    assert (result.exit_code, result.output) == (
        EXIT_USAGE,
        f"error: RENDERER_GIT_TIMEOUT={value!r}: give a number of seconds greater than 0 (default 300)\n",
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://oauth2:glpat-secret-in-url-01@127.0.0.1/env.git",
        "https://glpat-secret-in-url-01@127.0.0.1/env.git",
        "ssh://git:glpat-secret-in-url-01@127.0.0.1/env.git",
    ],
)
def test_a_url_with_credentials_is_refused(url: str, cli: Callable[..., Result]) -> None:
    result = cli("publish", "--root", str(ROOT), "--env-repo", url, "--all-apps")
    scheme = url.split(":")[0]
    assert (result.exit_code, result.output) == (
        EXIT_USAGE,
        f"error: --env-repo {scheme}://***@127.0.0.1/env.git carries credentials in its URL: give the URL "
        "without them and put the token in RENDERER_GIT_TOKEN (sent as a header, never written to the "
        "clone)\n",
    )


@pytest.mark.parametrize("url", ["ssh://git@127.0.0.1/env.git", "git@127.0.0.1:env.git", "/srv/env.git"])
def test_a_url_without_credentials_passes(url: str) -> None:
    gitrepo.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https::https://user:glpat-secret-in-url-01@127.0.0.1/env.git",  # git's <transport>::<address>
        "https::https://glpat-secret-in-url-01@127.0.0.1/env.git",
        "ftp://glpat-secret-in-url-01@127.0.0.1/env.git",
        "ftps://glpat-secret-in-url-01@127.0.0.1/env.git",
        "https:/user:glpat-secret-in-url-01@127.0.0.1/env.git",
        "https:user:glpat-secret-in-url-01@127.0.0.1/env.git",
        "user:glpat-secret-in-url-01@127.0.0.1:env.git",  # scp-like with a password
    ],
)
def test_every_form_of_a_url_with_credentials_is_refused(url: str) -> None:
    with pytest.raises(gitrepo.CredentialsInUrl) as err:
        gitrepo.check_url(url)
    assert "glpat-secret-in-url-01" not in str(err.value) and err.value.exit_code == EXIT_USAGE


# ---- over smart HTTP (git http-backend on loopback) -------------------------------------------


@pytest.fixture
def http_remote(tmp_path: Path) -> tuple[GitHttp, Path]:
    root = tmp_path / "served"
    root.mkdir()
    init_bare(root / "env.git")
    return GitHttp(root, TOKEN), root / "env.git"


def test_network_errors_on_push_are_retried_without_rendering_again(
    tmp_path: Path, tmp: Path, http_remote: tuple[GitHttp, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, bare = http_remote
    with server:
        environ = {"PATH": os.environ["PATH"], "RENDERER_GIT_TOKEN": TOKEN}
        server.fail_pushes = 2
        renders = _count(monkeypatch, delivery.pipeline, "run")
        [outcome] = publish(f"{server.url}/env.git", make_app(tmp_path, "one"), environ)
        assert (outcome.attempts, len(renders)) == (1, 1)
        assert server.pushes() == 4  # two refused, then the advertisement and the pack
        assert head(bare) == outcome.commit and greeting(bare) == "one"
        assert clones(tmp) == []


def test_a_push_that_landed_but_whose_answer_was_lost_is_not_repeated(
    tmp_path: Path, tmp: Path, http_remote: tuple[GitHttp, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server updates the branch, then answers 502: the renderer asks, finds its commit, succeeds."""
    server, bare = http_remote
    with server:
        environ = {"PATH": os.environ["PATH"], "RENDERER_GIT_TOKEN": TOKEN}
        server.lose_answers = 1
        pushes = _count(monkeypatch, delivery.gitrepo, "push_cas")
        [outcome] = publish(f"{server.url}/env.git", make_app(tmp_path, "one"), environ)
        assert (outcome.attempts, len(pushes), server.lose_answers) == (1, 1, 0)
        assert head(bare) == outcome.commit and greeting(bare) == "one"


def test_network_errors_on_push_are_bounded(
    tmp_path: Path, tmp: Path, http_remote: tuple[GitHttp, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, bare = http_remote
    with server:
        environ = {"PATH": os.environ["PATH"], "RENDERER_GIT_TOKEN": TOKEN}
        server.fail_pushes = 100
        renders = _count(monkeypatch, delivery.pipeline, "run")
        with pytest.raises(PublishError) as err:
            publish(f"{server.url}/env.git", make_app(tmp_path, "one"), environ, push_attempts=3)
        assert str(err.value) == (
            "git push failed after 3 tries: a network or server error: fatal: unable to access "
            f"'{server.url}/env.git/': The requested URL returned error: 502"
        )
        assert (len(renders), server.pushes()) == (1, 3)
        assert refs(bare) == "" and clones(tmp) == []


def test_the_token_travels_as_a_header_and_never_reaches_the_disk(
    tmp_path: Path, http_remote: tuple[GitHttp, Path]
) -> None:
    server, bare = http_remote
    work = tmp_path / "work"  # a workdir the publish keeps, so its files can be read afterwards
    with server:
        environ = {"PATH": os.environ["PATH"], "RENDERER_GIT_TOKEN": TOKEN}
        req = request(f"{server.url}/env.git", make_app(tmp_path, "one"))
        [outcome] = delivery.publish(platform(), req, environ, workdir=str(work))
    assert head(bare) == outcome.commit  # the server let us in: the header arrived
    encoded = base64.b64encode(f"oauth2:{TOKEN}".encode())
    files = [p for p in work.rglob("*") if p.is_file() and not p.is_symlink()]
    assert work / "clone-0" / ".git" / "config" in files and len(files) > 20
    for path in files:
        data = path.read_bytes()
        assert TOKEN.encode() not in data and encoded not in data, path


@pytest.mark.parametrize(
    ("token", "status", "expected"),
    [
        ("glpat-wrong-token-000001", None, "authentication failed; not retried: check RENDERER_GIT_TOKEN: "),
        (
            TOKEN,
            403,
            "permission denied; not retried: the credentials may not do this (a protected branch?): ",
        ),
        (
            TOKEN,
            404,
            "repository not found; not retried: check --env-repo and that the credentials may see it: ",
        ),
        (TOKEN, 503, "a network or server error: "),
    ],
)
def test_what_the_server_refuses_is_named(
    token: str,
    status: int | None,
    expected: str,
    tmp_path: Path,
    http_remote: tuple[GitHttp, Path],
) -> None:
    server, _ = http_remote
    with server:
        server.status_all = status
        environ = {"PATH": os.environ["PATH"], "RENDERER_GIT_TOKEN": token}
        with pytest.raises(PublishError) as err:
            publish(f"{server.url}/env.git", make_app(tmp_path, "one"), environ)
    assert str(err.value).startswith(f"git ls-remote failed: {expected}fatal: "), str(err.value)
    assert token not in str(err.value)


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        ("! refs/heads/main [rejected] (stale info)", "moved"),
        ("! HEAD:refs/heads/main [rejected] (fetch first)", "moved"),
        ("remote: error: cannot lock ref 'refs/heads/main': is at 1a2b but expected 3c4d", "moved"),
        (
            "remote: error: cannot lock ref 'refs/heads/main': Unable to create "
            "'/r.git/refs/heads/main.lock': File exists.",
            "moved",
        ),
        (
            "remote: error: cannot lock ref 'refs/heads/a/b': 'refs/heads/a' exists; cannot create "
            "'refs/heads/a/b'\n!\tHEAD:refs/heads/a/b\t[remote rejected] (failed to update ref)",
            "ref-conflict",
        ),
        ("!\tHEAD:refs/heads/main\t[remote rejected] (shallow update not allowed)", "other"),
        (
            "remote: error: cannot lock ref 'refs/heads/x': Unable to create 'x.lock': File name too long",
            "too-long",
        ),
        ("fatal: unable to access 'https://h/x.git/': Could not resolve host: h", "transient"),
        ("error: RPC failed; HTTP 500 curl 22 The requested URL returned error: 500", "transient"),
        ("fatal: the remote end hung up unexpectedly\nfatal: early EOF", "transient"),
        (
            "fatal: unable to access 'https://h/': Failed to connect to h port 443: Connection timed out",
            "transient",
        ),
        (
            "remote: GitLab: You are not allowed to push code to protected branches on this project.\n"
            " ! [remote rejected] main -> main (pre-receive hook declined)",
            "permission",
        ),
        ("remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://h/x.git/'", "auth"),
        ("git@h: Permission denied (publickey).", "permission"),
        ("remote: error: unable to write file: No space left on device", "disk"),
        ("fatal: something nobody foresaw", "other"),
    ],
)
def test_classify_reads_what_git_says(output: str, kind: str) -> None:
    assert gitrepo.classify(output) == kind


def test_a_branch_name_too_long_is_named_not_retried(tmp_path: Path, bare_repo: Path) -> None:
    """git's message says 'cannot lock ref', as for a moved head; the renderer must not retry it."""
    repo = gitrepo.open_clone(str(bare_repo), str(tmp_path / "clone"), "main", {"PATH": os.environ["PATH"]})
    assert gitrepo.commit_files(repo, None, {"a.txt": b"a"}, (), "a", "t <t@t>")
    gitrepo.checkout(repo, "main", repo.git("rev-parse", gitrepo.COMMIT_REF))
    with pytest.raises(gitrepo.GitError) as err:
        gitrepo.push_cas(repo, "render/prod/" + "a+" * 150 + "b", None, force=True)
    assert err.value.kind == "too-long"
    assert str(err.value).startswith("git push failed: a file or ref name is too long; not retried: To ")
    assert "File name too long" in str(err.value) and refs(bare_repo) == ""


def test_a_branch_clashing_with_another_is_named_not_retried(tmp_path: Path, bare_repo: Path) -> None:
    """`render/prod` exists, so `render/prod/x` cannot: git says 'cannot lock ref', and the push
    must fail once with what is wrong, not be retried as a moved head."""
    repo = gitrepo.open_clone(str(bare_repo), str(tmp_path / "clone"), "main", {"PATH": os.environ["PATH"]})
    assert gitrepo.commit_files(repo, None, {"a.txt": b"a"}, (), "a", "t <t@t>")
    gitrepo.checkout(repo, "main", repo.git("rev-parse", gitrepo.COMMIT_REF))
    assert gitrepo.push_cas(repo, "render/prod", None, force=True)
    with pytest.raises(gitrepo.GitError) as err:
        gitrepo.push_cas(repo, "render/prod/x", None, force=True)
    assert err.value.kind == "ref-conflict"
    assert str(err.value).startswith(
        "git push failed: a branch of that name cannot exist beside another branch on the remote; not retried"
    )
    assert "refs/heads/render/prod/x" not in refs(bare_repo)


def test_no_temp_dir_for_the_clone(tmp_path: Path, bare_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    with pytest.raises(PublishError) as err:
        publish(str(bare_repo), make_app(tmp_path, "one"))
    assert str(err.value) == "cannot create a temporary directory for the clone: No such file or directory"
