"""The git adapter: a working clone of the environment repo, commits through git itself, CAS pushes.

Every git call has a timeout and runs in a process group of its own, so a timeout or an
interruption ends git and whatever it started (a transport, a local remote's hooks). What git
says when it fails is sorted into one `Kind` here (`classify`); what to do about it (retry the
push, fetch and render again, or stop) is decided by `publish.delivery`.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, Literal
from urllib.parse import urlsplit

from renderer.data import blob_id
from renderer.errors import PublishError, UsageError, redact

DEFAULT_TIMEOUT = 300.0  # seconds; RENDERER_GIT_TIMEOUT overrides it at the edge

Kind = Literal[
    "moved",  # the remote branch is not where our lease says: fetch, render again, push again
    "transient",  # the network or the server failed: the same push may work a moment later
    "timeout",  # git did not finish within the timeout
    "hook",  # a server-side hook declined the push
    "auth",  # the remote did not accept our credentials
    "permission",  # the credentials are good but may not do this
    "not-found",  # no repository at that URL
    "too-long",  # a path or ref name longer than the file system or the server takes
    "ref-conflict",  # a branch named like a folder of another (`a` exists, so `a/b` cannot, or back)
    "disk",  # no space left, here or on the remote
    "other",
]

# Ordered: the first match wins. A server that refuses a protected branch also says its hook
# declined, and a hook may print anything, so the specific kinds come before the general ones.
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("too-long", re.compile(r"name too long|path too long|too long for", re.I)),
    ("disk", re.compile(r"no space left on device|disk quota exceeded", re.I)),
    ("ref-conflict", re.compile(r"exists; cannot create", re.I)),
    (
        "auth",
        re.compile(
            r"authentication failed|could not read username|could not read password|"
            r"http basic: access denied|returned error: 401|invalid username or password",
            re.I,
        ),
    ),
    (
        "permission",
        re.compile(
            r"permission denied|returned error: 403|not allowed to push|"
            r"you are not allowed|insufficient permission|access denied",
            re.I,
        ),
    ),
    (
        "not-found",
        re.compile(
            r"repository '[^']*' not found|repository not found|does not appear to be a git repository|"
            r"returned error: 404|no such repository",
            re.I,
        ),
    ),
    ("hook", re.compile(r"hook declined|declined by .*hook", re.I)),
    # "cannot lock ref" alone is no proof: git says it for a name clash too (`ref-conflict` above)
    (
        "moved",
        re.compile(
            r"\[rejected\]|stale info|fetch first|non-fast-forward|cannot lock ref '[^']*': is at|"
            r"unable to create '[^']*\.lock': file exists",
            re.I,
        ),
    ),
    (
        "transient",
        re.compile(
            r"could not resolve host|could not resolve proxy|connection refused|connection timed out|"
            r"connection reset|operation timed out|failed to connect|couldn't connect|rpc failed|"
            r"returned error: 5\d\d|http 5\d\d|early eof|remote end hung up|unexpected disconnect|"
            r"network is unreachable|no route to host|temporary failure in name resolution",
            re.I,
        ),
    ),
)

_WHAT: dict[Kind, str] = {
    "moved": "the remote branch moved (another publisher pushed first)",
    "transient": "a network or server error",
    "timeout": "no answer in time",
    "hook": "a hook on the remote declined it; not retried",
    "auth": "authentication failed; not retried: check RENDERER_GIT_TOKEN",
    "permission": "permission denied; not retried: the credentials may not do this (a protected branch?)",
    "not-found": "repository not found; not retried: check --env-repo and that the credentials may see it",
    "too-long": "a file or ref name is too long; not retried",
    "ref-conflict": "a branch of that name cannot exist beside another branch on the remote; not retried",
    "disk": "no space left on a disk; not retried",
    "other": "",
}


def classify(output: str) -> Kind:
    """What kind of failure git's output describes."""
    for kind, pattern in _PATTERNS:
        if pattern.search(output):
            return kind
    return "other"


class GitError(PublishError):
    """A git command failed; `kind` says how, the message says which command and why."""

    def __init__(self, operation: str, kind: Kind, detail: str, tries: int = 1) -> None:
        self.operation, self.kind, self.detail, self.tries = operation, kind, detail, tries
        after = f" after {tries} tries" if tries > 1 else ""
        what = _WHAT[kind]
        super().__init__(f"git {operation} failed{after}: " + (f"{what}: {detail}" if what else detail))

    def __reduce__(self) -> tuple[type[GitError], tuple[str, Kind, str, int]]:
        return (type(self), (self.operation, self.kind, self.detail, self.tries))

    def retried(self, tries: int) -> GitError:
        return GitError(self.operation, self.kind, self.detail, tries)


class CredentialsInUrl(UsageError):
    """A URL that carries a password or token: git would store it in the clone's config."""


def check_url(url: str) -> None:
    """Refuse a URL with credentials in it: the token belongs in RENDERER_GIT_TOKEN, never on disk."""
    address = url.split("::", 1)[1] if "::" in url else url  # git's `<transport>::<address>` form
    if "://" in address:
        parts = urlsplit(address)
        if "@" not in parts.netloc:
            return
        userinfo, _, host = parts.netloc.rpartition("@")
        ssh = parts.scheme.lower() in ("ssh", "git+ssh", "ssh+git")
        # a password anywhere, and any user part but ssh's (`ssh://git@host`): over https or ftp a
        # bare user part is a token
        if ":" not in userinfo and ssh:
            return
        shown = parts._replace(netloc=f"***@{host}").geturl()
    else:
        # scp-like (`git@host:repo`) or malformed (`https:u:p@host`): a `:` before the `@` is a password
        before = address.rpartition("@")[0]
        if ":" not in before:
            return
        shown = "***@" + address.rpartition("@")[2]
    raise CredentialsInUrl(
        f"--env-repo {shown} carries credentials in its URL: give the URL without them and put the "
        "token in RENDERER_GIT_TOKEN (sent as a header, never written to the clone)"
    )


@dataclass(frozen=True, slots=True)
class Repo:
    path: str
    url: str
    env: Mapping[str, str]  # environment for git (no tokens on command lines)
    secrets: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT

    def run(self, *args: str, input_text: str | None = None) -> tuple[int, str, str]:
        """Run git; (exit status, stdout, stderr). A timeout ends git's whole process group."""
        code, out, err = self._communicate(args, input_text, text=True)
        assert isinstance(out, str) and isinstance(err, str)
        return code, out, err

    def run_bytes(self, *args: str, data: bytes) -> tuple[int, bytes, str]:
        """`run` with bytes in and out (stderr decoded): for file contents, whose sizes git counts
        in bytes."""
        code, out, err = self._communicate(args, data, text=False)
        assert isinstance(out, bytes) and isinstance(err, bytes)
        return code, out, err.decode("utf-8", "replace")

    def run_from(self, *args: str, stream: IO[bytes]) -> tuple[int, str]:
        """`run` reading its input from an open file (a stream too large to hold twice in
        memory); (exit status, stderr)."""
        code, _, err = self._communicate(args, None, text=False, stdin=stream)
        assert isinstance(err, bytes)
        return code, err.decode("utf-8", "replace")

    def _communicate(
        self, args: Sequence[str], data: str | bytes | None, text: bool, stdin: IO[bytes] | None = None
    ) -> tuple[int, str | bytes, str | bytes]:
        source: int | IO[bytes] = subprocess.PIPE if data is not None else subprocess.DEVNULL
        if stdin is not None:
            source = stdin
        proc = _start(["git", "-C", self.path, *args], dict(self.env), source, text)
        try:
            # str for a text process, bytes for a binary one (`text` decides both)
            out, err = proc.communicate(data, timeout=self.timeout)  # type: ignore[arg-type]
        except subprocess.TimeoutExpired:
            _end(proc)
            raise GitError(
                _operation(args), "timeout", f"gave up after {self.timeout:g} s (RENDERER_GIT_TIMEOUT)"
            ) from None
        except BaseException:  # interrupted (SIGINT, SIGTERM): git must not outlive us
            _end(proc)
            raise
        return proc.returncode, out, err

    def git(self, *args: str, input_text: str | None = None) -> str:
        code, out, err = self.run(*args, input_text=input_text)
        if code != 0:
            output = (err or out).strip()
            raise GitError(_operation(args), classify(output), redact(output, self.secrets))
        return out.strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args)[0] == 0


_Process = subprocess.Popen[str] | subprocess.Popen[bytes]


def _operation(args: Sequence[str]) -> str:
    """The git subcommand in an argument list (skipping `-c key=value` pairs)."""
    rest = list(args)
    while len(rest) > 2 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "git"


def _start(
    argv: list[str],
    env: dict[str, str],
    stdin: int | IO[bytes],
    text: bool = True,
    owner: Callable[[_Process], None] | None = None,
) -> _Process:
    """Start git in a process group of its own (killed whole; a terminal's ^C reaches only us, and
    we end git ourselves).

    The start runs in a helper thread: Python runs signal handlers only in the main thread, and one
    that raised while the main thread was forking would lose the new process's pid, leaving git
    running. A process the caller does not wait for goes to `owner` in that thread too, so no
    signal falls between its start and whoever ends it (`Pending`). An interruption (here, or in
    starting the thread) takes the lock the start holds: either git was started, and is ended, or
    it never will be."""
    started: list[_Process] = []
    failed: list[BaseException] = []
    abandoned: list[bool] = []
    done = threading.Event()
    lock = threading.Lock()

    def start() -> None:
        try:
            with lock:
                if abandoned:
                    return
                proc = subprocess.Popen(
                    argv,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    # paths as git has them (UTF-8, any other byte kept), whatever this process's
                    # locale: a path is the same str here as in a file's name or a tree
                    encoding="utf-8" if text else None,
                    errors="surrogateescape" if text else None,
                    env=env,
                    start_new_session=True,
                )
                started.append(proc)
                if owner is not None:
                    owner(proc)
        except BaseException as exc:  # handed to the caller's thread below
            failed.append(exc)
        finally:
            done.set()

    try:
        threading.Thread(target=start, name="git-start", daemon=True).start()
        done.wait()  # not Thread.join: one interrupted by a signal can return early after that
    except BaseException:
        with lock:  # quick: held only while git is forked
            abandoned.append(True)
            for proc in started:
                _end(proc)
        raise
    if failed:
        raise failed[0]
    return started[0]


def _end(proc: _Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def git_env(environ: Mapping[str, str]) -> dict[str, str]:
    """A predictable git: no user config, no prompts, C locale.

    An https token (RENDERER_GIT_TOKEN) travels as an HTTP header set through git's environment
    configuration: never in the URL, on a command line, in a file, or in git's own messages.
    """
    keep = {k: v for k, v in environ.items() if k in ("PATH", "HOME", "SSH_AUTH_SOCK", "TMPDIR")}
    env = {
        **keep,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    token = environ.get("RENDERER_GIT_TOKEN")
    if token:
        env.update(
            {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {_basic(token)}",
            }
        )
    return env


def _basic(token: str) -> str:
    return base64.b64encode(f"oauth2:{token}".encode()).decode()


def open_clone(
    url: str,
    path: str,
    branch: str,
    environ: Mapping[str, str],
    secrets: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> Repo:
    """Clone (or init, for an empty remote) into `path`."""
    check_url(url)
    os.makedirs(path, exist_ok=True)
    _parts.pop(os.path.realpath(path), None)  # a clone made here before (`checkout_part`) is gone
    token = environ.get("RENDERER_GIT_TOKEN", "")
    hidden = (*secrets, *((token, _basic(token)) if token else ()))
    repo = Repo(path, url, git_env(environ), hidden, timeout)
    repo.git("init", "-q", "-b", branch)
    repo.git("config", "user.name", "platform-renderer")
    repo.git("config", "user.email", "renderer@platform.invalid")
    repo.git("config", "core.autocrlf", "false")
    repo.git("config", "gc.auto", "0")  # a throwaway clone; one fetched without blobs cannot be repacked
    repo.git("remote", "add", "origin", url)
    return repo


def fetch(repo: Repo, branch: str) -> str | None:
    """Fetch the branch and check it out clean; the head we render from (None if absent)."""
    head = fetch_head(repo, branch)
    checkout(repo, branch, head)
    return head


def fetch_head(repo: Repo, branch: str, history: bool = True, blobs: bool = True) -> str | None:
    """Fetch the branch's objects without touching the checkout; its head (None if absent). What
    it holds can be read with `read_files` before anything is checked out. `history=False`: the
    head commit alone (`--depth 1`), for a caller that only reads and commits on top of it: an
    environment repo gains a commit per publish, and fetching them all grew every publish with
    the repo's age. A later plain fetch into it brings what it needs and stops at what it has.

    `blobs=False`: commits and trees, no file contents (`--filter=blob:none`, where the server
    allows it, as GitLab does; one that does not sends everything). Only the clone's own reads
    (`read_files`, `checkout_part`) may then touch file contents: they fetch what is missing in
    one request (`ensure`). git would fetch each missing file by itself, one request per file (a
    thousand files took 33 s here), so the clone does not keep a partial clone's settings: a
    read not routed through `ensure` fails instead of crawling."""
    if not repo.git("ls-remote", "origin", f"refs/heads/{branch}"):
        return None
    fetch_branch(repo, branch, TIP if not history else (), blobs)
    return repo.git("rev-parse", f"refs/remotes/origin/{branch}")


def fetch_branch(repo: Repo, branch: str, depth: Sequence[str] = (), blobs: bool = True) -> None:
    """Fetch the remote branch into `refs/remotes/origin/<branch>`. Into a clone fetched without
    file contents, without them too, whatever `blobs` says: the server would send the branch's
    files as deltas against files it takes the clone to have ("unresolved deltas"). `depth`
    `("--depth", "1")` for a caller that reads only the tip (its tree, files, parent ids): into a
    clone of main's head alone, a branch made on an older main would otherwise bring the whole
    history behind it."""
    filtered = not blobs or _partial(repo)
    try:
        repo.git(*_fetch_args(branch, depth, filtered))
    finally:
        if filtered:
            _forget_promisor(repo)


TIP = ("--depth", "1")  # `fetch_branch` for a caller that reads only the branch's tip


def _fetch_args(branch: str, depth: Sequence[str], filtered: bool) -> list[str]:
    """`git fetch` of the remote branch into `refs/remotes/origin/<branch>` (`fetch_branch`,
    `Pending`); `filtered`: without file contents."""
    contents = ("--filter=blob:none",) if filtered else ()
    return [
        "fetch",
        "-q",
        "--no-tags",
        *depth,
        *contents,
        "origin",
        f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
    ]


@dataclass(slots=True)
class Pending:
    """A fetch of `branch`'s head (`--depth 1`) that runs while the caller does other work: made,
    handed to whoever ends it, then started (`start`); `wait` for the head, or `cancel`.
    `filtered`: without file contents (`--filter=blob:none`), as `fetch_head(blobs=False)`."""

    repo: Repo
    branch: str
    filtered: bool
    proc: _Process | None = None
    deadline: float = 0.0  # the repo's timeout counts from the start, not from `wait`

    def start(self) -> None:
        argv = ["git", "-C", self.repo.path, *_fetch_args(self.branch, TIP, self.filtered)]
        self.deadline = time.monotonic() + self.repo.timeout
        _start(argv, dict(self.repo.env), subprocess.DEVNULL, owner=self._started)

    def _started(self, proc: _Process) -> None:
        self.proc = proc

    def wait(self) -> str | None:
        """The branch's head, once fetched; None where the fetch failed (the branch is absent, the
        remote unreachable, too slow): the caller then fetches as usual, and reports what fails."""
        proc = self.proc
        if proc is None:
            return None
        try:
            proc.communicate(timeout=max(self.deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            self.cancel()
            return None
        except BaseException:  # interrupted: git must not outlive us
            self.cancel()
            raise
        self.proc = None
        if proc.returncode != 0:
            return None
        try:
            if self.filtered:
                _forget_promisor(self.repo)
            return self.repo.git("rev-parse", f"refs/remotes/origin/{self.branch}")
        except GitError:  # a clone in a state of its own: the caller starts afresh
            return None

    def cancel(self) -> None:
        """End the fetch where it is (nothing waits for it any more); then nothing to wait for."""
        if self.proc is not None:
            if self.proc.returncode is None:  # never signal a pid already reaped (and maybe reused)
                _end(self.proc)
            self.proc = None


def parents(repo: Repo, commit: str) -> list[str]:
    """The parent ids a commit records, even where a shallow fetch cut them off (`^@` gives none
    there)."""
    header = repo.git("cat-file", "commit", commit).partition("\n\n")[0]
    return [line.split(" ")[1] for line in header.splitlines() if line.startswith("parent ")]


def _forget_promisor(repo: Repo) -> None:
    """Drop the settings a filtered fetch leaves (with them, git fetches any missing object it
    meets, one request each, inside whatever command met it)."""
    for key in ("remote.origin.promisor", "remote.origin.partialclonefilter", "extensions.partialclone"):
        code, _, err = repo.run("config", "--unset-all", key)
        if code not in (0, 5):  # 5: it was not set
            raise GitError("config", classify(err), redact(err.strip(), repo.secrets))


def ensure(repo: Repo, oids: Collection[str]) -> None:
    """Fetch, in one request, those of `oids` the clone lacks (a clone `fetch_head` fetched
    without blobs); nothing when it has them all, or was never fetched without them."""
    if not oids or not _partial(repo):
        return
    bad = sorted(oid for oid in oids if not _OBJECT_ID.fullmatch(oid))
    if bad:
        raise GitError("cat-file", "other", f"not an object id: {bad[0]!r}")
    missing = _missing(repo, oids)
    if not missing:
        return
    fetch = ("-c", "fetch.negotiationAlgorithm=noop", "-c", "remote.origin.promisor=true", "fetch", "-q")
    options = ("--no-tags", "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none")
    try:
        code, out, err = repo.run(
            *fetch, *options, "origin", "--stdin", input_text="".join(f"{o}\n" for o in missing)
        )
    finally:
        _forget_promisor(repo)
    if code != 0 and classify(err or out) != "other":  # the network, the credentials, the server
        raise GitError("fetch", classify(err or out), redact((err or out).strip(), repo.secrets))
    if code != 0:  # a server that sends no object by its id (protocol v0 without allowAnySHA1InWant)
        for ref in repo.git("for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/origin/").split():
            repo.git(
                "fetch",
                "-q",
                "--no-tags",
                "--refetch",
                "origin",
                f"+refs/heads/{ref}:refs/remotes/origin/{ref}",
            )
    still = _missing(repo, missing)
    if still:
        raise GitError("fetch", "other", f"the remote did not send {len(still)} file(s), e.g. {still[0]}")


_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _missing(repo: Repo, oids: Collection[str]) -> list[str]:
    """Those of `oids` (full object ids) the clone lacks."""
    return sorted(set(oids) - set(_sizes(repo, oids)))


def _partial(repo: Repo) -> bool:
    """Whether some fetch into the clone left file contents on the server (git marks what such a
    fetch brought with a `.promisor` file beside its pack)."""
    packs = os.path.join(repo.path, ".git", "objects", "pack")
    return os.path.isdir(packs) and any(name.endswith(".promisor") for name in os.listdir(packs))


def checkout(repo: Repo, branch: str, head: str | None) -> None:
    """Check out `head` (fetched by `fetch_head`) clean as `branch`; None: start from nothing,
    whatever an earlier attempt left here (an empty remote)."""
    _parts.pop(os.path.realpath(repo.path), None)
    if head is not None and _partial(repo):  # every file is written: all of their contents
        metas = [e.partition("\t")[0].split(" ") for e in _raw(repo, "ls-tree", "-r", "-z", head).split("\0")]
        ensure(repo, {meta[2] for meta in metas if meta[1:2] == ["blob"]})  # "<mode> <type> <object>"
    if head is None:
        repo.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        repo.git("update-ref", "-d", f"refs/heads/{branch}")
        repo.git("read-tree", "--empty")
        repo.git("clean", "-qfdx")
        return
    repo.git("checkout", "-q", "-f", "-B", branch, head)  # -f: over what an earlier group left
    repo.git("reset", "-q", "--hard", head)
    repo.git("clean", "-qfdx")


@dataclass(frozen=True, slots=True)
class _Part:
    """What `checkout_part` last left in a clone: the commit, what its tree holds (path → (mode,
    object id, whether left out of the checkout): `index`'s answer; the files not left out are
    those on disk, and the only entries of git's index), the index file as it was then
    (`_index_stamp`) and which files it wanted. git replaces the index file whenever it writes it:
    the same stamp means nobody changed the index since."""

    head: str
    listed: dict[str, tuple[str, str, bool]]
    stamp: tuple[int, int, int] | None
    wanted: Callable[[str], bool]


# each clone's (its real path) last `checkout_part`: a later call (the next delivery group, on the
# commit the first one pushed) changes only what differs between the two commits, and `index`
# answers from it while the index file is the one it left; anything else that writes into a
# clone forgets it (`checkout`, `open_clone`)
_parts: dict[str, _Part] = {}


def _index_stamp(repo: Repo) -> tuple[int, int, int] | None:
    """The index file's inode, modification time and size; None where it is not `.git/index`."""
    if "GIT_INDEX_FILE" in repo.env:
        return None
    try:
        st = os.stat(os.path.join(repo.path, ".git", "index"))
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _current(repo: Repo, part: _Part | None) -> bool:
    """Whether the clone's index is still the one `part` (its last `checkout_part`) left."""
    return part is not None and part.stamp is not None and part.stamp == _index_stamp(repo)


def checkout_part(repo: Repo, branch: str, head: str, wanted: Callable[[str], bool]) -> None:
    """`checkout`, writing only the files `wanted` accepts. git's index holds those alone: the
    commit is built over `head`'s tree (`commit_files`), not from the index, and `index` answers
    with the whole tree from what this kept. Thousands of apps' files are neither written to disk
    nor entered in the index for a publish that changes one (entering 80,000 took most of a second
    at 1,000 apps). On a clone this function checked out before, only the files that changed since
    are written again; and while the index is the one it left, only the entries that differ
    between the two commits change in it."""
    last = _parts.pop(os.path.realpath(repo.path), None)  # forgotten until this call completes
    repo.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
    repo.git("update-ref", f"refs/heads/{branch}", head)
    if last is not None and _current(repo, last) and last.wanted is wanted:
        listed = last.listed if last.head == head else _checkout_changes(repo, last, head)
    else:
        listed = _checkout_whole(repo, head, wanted, last)
    _parts[os.path.realpath(repo.path)] = _Part(head, listed, _index_stamp(repo), wanted)


def _checkout_whole(
    repo: Repo, head: str, wanted: Callable[[str], bool], last: _Part | None
) -> dict[str, tuple[str, str, bool]]:
    """The index made of `head`'s wanted entries from scratch; of their files, those `last` did
    not write."""
    listed = _tree(repo, head, wanted)
    shown = [f"{mode} {oid}\t{path}\0" for path, (mode, oid, hidden) in listed.items() if not hidden]
    repo.git("read-tree", "--empty")
    _enter(repo, shown)
    repo.git("clean", "-qfdx")  # what is no longer in the index, whoever wrote it
    written = {} if last is None else {p: e for p, e in last.listed.items() if not e[2]}
    _write(
        repo,
        [
            (p, m, o)
            for p, (m, o, skipped) in listed.items()
            if not skipped and written.get(p) != (m, o, False)
        ],
    )
    return listed


def _checkout_changes(repo: Repo, before: _Part, head: str) -> dict[str, tuple[str, str, bool]]:
    """`before.head`'s index made `head`'s by the wanted entries that differ between the two
    commits."""
    listed = dict(before.listed)
    fields = _raw(repo, "diff-tree", "-r", "-z", "--no-renames", before.head, head).split("\0")
    removed: list[str] = []
    changed: list[tuple[str, str, str]] = []
    for meta, path in zip(fields[0:-1:2], fields[1::2], strict=True):
        _, mode, _, oid, status = meta.split(" ")  # ":<old mode> <new mode> <old> <new> <status>"
        if status == "D":
            gone = listed.pop(path, None)
            if gone is None or not gone[2]:  # one left out was never in the index
                removed.append(path)
        elif before.wanted(path):
            changed.append((path, mode, oid))
            listed[path] = (mode, oid, False)
        else:
            listed[path] = (mode, oid, True)
    # removals first: a file that became a folder (or the reverse) is a removal and an addition
    info = [f"0 {'0' * len(head)}\t{path}\0" for path in removed]
    info += [f"{mode} {oid}\t{path}\0" for path, mode, oid in changed]
    _enter(repo, info)
    if removed:
        repo.git("clean", "-qfdx")  # the files of removed entries are no longer in the index
    _write(repo, changed)
    return listed


def _enter(repo: Repo, info: Sequence[str]) -> None:
    """Entries (`<mode> <object>\\t<path>\\0`) into git's index. git leaves out a path it refuses to
    check out on this machine (`git~1/x`, NTFS's short name of `.git`) and says so only on stderr:
    the checkout is refused then, naming the path, as `read-tree` of the whole tree refused it."""
    if not info:
        return
    code, out, err = repo.run("update-index", "-z", "--index-info", input_text="".join(info))
    refused = [
        line.removeprefix("Ignoring path ") for line in err.splitlines() if line.startswith("Ignoring path ")
    ]
    if code == 0 and not refused:
        return
    failed = (err or out).strip()
    if not refused:
        raise GitError("update-index", classify(failed), redact(failed, repo.secrets))
    detail = (
        f"main's tree holds {refused[0]!r}, a path git refuses to check out; "
        "remove it from the environment repo"
    )
    if code != 0:
        detail += f" ({failed})"
    # the kind is not read from the message: a path's name may spell any of git's errors
    raise GitError("update-index", "other", redact(detail, repo.secrets))


def _write(repo: Repo, files: Sequence[tuple[str, str, str]]) -> None:
    """Write these index entries' files (path, mode, object id) to the checkout."""
    # a submodule's commit lives elsewhere: git writes an empty folder
    ensure(repo, {oid for _, mode, oid in files if mode != "160000"})
    if files:
        paths = "".join(f"{path}\0" for path, _, _ in files)
        repo.git("checkout-index", "-f", "-z", "--stdin", input_text=paths)


def _tree(repo: Repo, commit: str, wanted: Callable[[str], bool]) -> dict[str, tuple[str, str, bool]]:
    """Every entry of `commit`'s tree: path → (mode, object id, whether `wanted` leaves it out)."""
    listed: dict[str, tuple[str, str, bool]] = {}
    for entry in _raw(repo, "ls-tree", "-r", "-z", "--full-tree", commit).split("\0"):
        if entry:  # "<mode> <type> <object>\t<path>"
            meta, _, path = entry.partition("\t")
            mode, _, oid = meta.split(" ")
            listed[path] = (mode, oid, not wanted(path))
    return listed


def index(path: str) -> dict[str, tuple[str, str, bool]]:
    """What the checkout at `path` holds: path → (mode, object id, whether a `checkout_part` left
    it out of the checkout). After a `checkout_part`, that is its commit's whole tree, whatever
    git's index (which holds only the files written) became since; after any other checkout, the
    index as git lists it."""
    repo = local(path)
    part = _parts.get(os.path.realpath(path))
    if part is not None:
        head = repo.git("rev-parse", "HEAD")
        return dict(part.listed) if head == part.head else _tree(repo, head, part.wanted)
    found: dict[str, tuple[str, str, bool]] = {}
    for entry in _raw(repo, "ls-files", "-s", "-v", "-z").split("\0"):
        if entry:  # "<tag> <mode> <object> <stage>\t<path>"
            meta, _, rel = entry.partition("\t")
            tag, mode, oid, _ = meta.split(" ")
            found[rel] = (mode, oid, tag == "S")
    return found


def local(path: str) -> Repo:
    """The checkout at `path`, for git commands that only read it (no remote, no credentials)."""
    return Repo(path, "", git_env({"PATH": os.environ.get("PATH", "")}))


def read_indexed(
    repo: Repo, listed: Mapping[str, tuple[str, str, bool]], paths: Collection[str]
) -> dict[str, bytes]:
    """The files at `paths` as the index of the checkout `repo` records them (`listed`: its
    `index`), read from git's objects in one call: a file `checkout_part` left out is read like any
    other, and nothing on disk is followed."""
    held = {p: listed[p][:2] for p in paths if p in listed}  # a path it does not hold: left out
    return read_files(repo, "", sorted(held), held)


def folders(repo: Repo, folder: str, commit: str = "HEAD") -> dict[str, dict[str, tuple[str, str, int]]]:
    """Each entry directly inside `folder` at `commit`: name → every entry below it (its path
    inside → git's mode, object id, and size in bytes; -1 for a submodule). An entry that is not a
    folder (a file, a link, a submodule) holds nothing. None at all before the first commit.

    Only trees are read, but the sizes of files a clone without their contents (`fetch_head`)
    lacks: git cannot tell them until it has fetched them (`ensure`)."""
    code, out, err = repo.run("ls-tree", "-r", "-l", "-z", "--full-tree", commit, f"{folder}/")
    if code != 0:
        if not repo.ok("rev-parse", "--verify", "-q", f"{commit}^{{commit}}"):
            return {}  # an empty repo: nothing stored yet
        raise GitError("ls-tree", classify(err or out), redact((err or out).strip(), repo.secrets))
    found: dict[str, dict[str, tuple[str, str, int]]] = {}
    unsized: set[str] = set()
    for entry in out.split("\0"):
        meta, _, rel = entry.partition("\t")  # "<mode> <type> <object> <size, padded>\t<path>"
        if not meta:
            continue
        mode, _, oid, size = meta.split()
        name, _, inner = rel[len(folder) + 1 :].partition("/")
        files = found.setdefault(name, {})
        if inner:
            files[inner] = (mode, oid, int(size) if size.isdigit() else -1)
            if mode in REGULAR_MODES and not size.isdigit():  # "BAD": the clone lacks the object
                unsized.add(oid)
    if unsized:
        ensure(repo, unsized)
        sizes = _sizes(repo, unsized)
        for files in found.values():
            for inner, (mode, oid, _) in files.items():
                if oid in sizes and mode in REGULAR_MODES:
                    files[inner] = (mode, oid, sizes[oid])
    return found


def _sizes(repo: Repo, oids: Collection[str]) -> dict[str, int]:
    """The size in bytes of each of `oids` the clone holds (one it lacks is left out)."""
    query = "".join(f"{o}\n" for o in sorted(oids))
    code, out, err = repo.run("cat-file", "--batch-check=%(objectname) %(objectsize)", input_text=query)
    if code != 0:
        raise GitError("cat-file", classify(err), redact(err.strip(), repo.secrets))
    found = {}
    for line in out.splitlines():
        oid, _, size = line.partition(" ")
        if size.isdigit():
            found[oid] = int(size)
    return found


def blobs(listed: Mapping[str, tuple[str, str, bool]]) -> dict[str, str]:
    """The regular files an `index` lists: path → git's object id of its bytes."""
    return {path: oid for path, (mode, oid, _) in listed.items() if mode in REGULAR_MODES}


def holds(listed: Mapping[str, tuple[str, str, bool]]) -> Callable[[str, bytes], bool]:
    """Whether a path `listed` (`index`) is a regular file with exactly these bytes: its object id
    computed as git does, so nothing is read from disk."""

    def same(path: str, data: bytes) -> bool:
        entry = listed.get(path)
        if entry is None or entry[0] not in REGULAR_MODES:
            return False
        return blob_id(data, sha256=len(entry[1]) != 40) == entry[1]  # the repo's object format

    return same


def listing(repo: Repo, *args: str) -> list[str]:
    """The paths a git command lists NUL-separated (`-z`): as they are, where a plain listing
    quotes a name that is not ASCII."""
    return [p for p in _raw(repo, *args).split("\0") if p]


def _raw(repo: Repo, *args: str) -> str:
    """`Repo.git`'s output unstripped (NUL-separated paths may end in spaces)."""
    code, out, err = repo.run(*args)
    if code != 0:
        raise GitError(_operation(args), classify(err or out), redact((err or out).strip(), repo.secrets))
    return out


REGULAR_MODES = ("100644", "100755")  # a file; not a symlink (120000), folder or submodule


def entries(repo: Repo, commit: str, paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """path → (mode, object id) of those of `paths` that exist in `commit`, whatever they are."""
    if not paths:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for entry in _raw(repo, "ls-tree", "-z", "--full-tree", commit, "--", *paths).split("\0"):
        if entry:
            meta, _, path = entry.partition("\t")
            mode, _, oid = meta.split(" ")
            found[path] = (mode, oid)
    return found


def read_files(
    repo: Repo, commit: str, paths: Sequence[str], listed: Mapping[str, tuple[str, str]] | None = None
) -> dict[str, bytes]:
    """The regular files at `paths` in `commit`, read from the object store in two git calls (no
    checkout; one when the caller has their `entries` already); a path that is missing, or is a
    symlink, folder or submodule, is left out (a caller that must tell those apart asks `entries`)."""
    listed = entries(repo, commit, paths) if listed is None else listed
    wanted = sorted(p for p, (mode, _) in listed.items() if mode in REGULAR_MODES)
    if not wanted:
        return {}
    ensure(repo, {listed[p][1] for p in wanted})
    query = "".join(f"{listed[p][1]}\n" for p in wanted).encode()
    code, out, err = repo.run_bytes("cat-file", "--batch", data=query)
    if code != 0:
        raise GitError("cat-file", classify(err), redact(err.strip(), repo.secrets))
    found: dict[str, bytes] = {}
    at = 0
    for path in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if len(header) != 3:  # "<object> missing": the clone lacks it (`ensure` could not fetch it)
            raise GitError("cat-file", "other", f"cannot read {path}: {out[at:end].decode(errors='replace')}")
        size = int(header[2])
        found[path] = out[end + 1 : end + 1 + size]
        at = end + 1 + size + 1  # the header, the content and its newline
    return found


COMMIT_REF = "refs/renderer/commit"  # where `commit_files` builds its commit; HEAD is the caller's


def commit_files(
    repo: Repo,
    parent: str | None,
    files: Mapping[str, bytes],
    deleted: Sequence[str],
    message: str,
    author: str,
) -> str | None:
    """A commit of `parent`'s tree with `files` written and `deleted` removed; None when there is
    nothing to change. Built by `git fast-import` from the bytes in memory: the working tree and
    the index are not touched (writing thousands of rendered files to disk, then `git add` reading
    and hashing them again, cost more than rendering them)."""
    if not files and not deleted:
        return None
    for path in (*files, *deleted):
        _check_path(path)
    both = sorted(_folders(files).intersection(files))
    if both:  # fast-import would keep whichever came last; a checkout on disk could hold neither
        raise PublishError(f"refusing to commit {both[0]!r}: it is both a file and a folder")
    name, _, email = author.partition(" <")
    who = f"{_bare(name) or 'platform-renderer'} <{_bare(email.rstrip('>')) or 'renderer@platform.invalid'}>"
    text = (repo.git("stripspace", input_text=message) + "\n").encode()
    with tempfile.TemporaryFile(prefix="renderer-commit-") as stream:
        stream.write(f"reset {COMMIT_REF}\ncommit {COMMIT_REF}\n".encode())
        stream.write(f"author {who} now\ncommitter {who} now\ndata {len(text)}\n".encode() + text)
        if parent:
            stream.write(f"from {parent}\n".encode())
        for path in deleted:
            stream.write(f"D {path}\n".encode())
        for path, data in files.items():
            stream.write(f"M 100644 inline {path}\ndata {len(data)}\n".encode())
            stream.write(data)
            stream.write(b"\n")
        stream.write(b"done\n")
        stream.seek(0)
        code, err = repo.run_from(
            "fast-import", "--quiet", "--force", "--date-format=now", "--done", stream=stream
        )
    if code != 0:
        raise GitError("fast-import", classify(err), redact(err.strip(), repo.secrets))
    commit = repo.git("rev-parse", COMMIT_REF)
    _check_paths(repo, files, sha256=len(commit) != 40)
    return commit


def _check_paths(repo: Repo, files: Mapping[str, bytes], sha256: bool) -> None:
    """git's own rules for the paths written, before anything is pushed: fast-import writes what
    it is given, and a path git refuses to check out (`.git.`, `git~1`, `.git` with an invisible
    character: a `.git` on NTFS or HFS+) would stop every later publish to the repo. The paths go
    into a throwaway index with both protections on, whatever this machine's file system; git
    leaves out each path it refuses. Only the written paths: the parent's were checked when they
    were written, and reading its whole tree (80,000 files at 1,000 apps) cost a fifth of a second."""
    # as bytes, as fast-import wrote them: whatever this process's locale would make of them
    entries = b"".join(
        b"100644 %s\t%s\0" % (blob_id(d, sha256).encode(), p.encode()) for p, d in files.items()
    )
    with tempfile.TemporaryDirectory(prefix="renderer-index-") as tmp:
        own = replace(repo, env={**repo.env, "GIT_INDEX_FILE": os.path.join(tmp, "index")})
        protected = ("-c", "core.protectNTFS=true", "-c", "core.protectHFS=true")
        calls = ((*protected, "update-index", "-z", "--add", "--index-info"), ("ls-files", "-z"))
        for args, data in zip(calls, (entries, b""), strict=True):
            code, out, err = own.run_bytes(*args, data=data)
            if code != 0:
                raise GitError(_operation(args), classify(err), redact(err.strip(), repo.secrets))
    taken = set(out.split(b"\0"))
    refused = sorted(p for p in files if p.encode() not in taken)
    if refused:
        shown = redact(refused[0], repo.secrets)
        raise PublishError(
            f"refusing to publish: git refuses a path of the rendered tree: {shown!r} "
            "(a name git would not check out on NTFS or HFS+)"
        )


def _folders(paths: Iterable[str]) -> set[str]:
    """Every folder the paths lie in (each one's parents added until one is known already)."""
    folders: set[str] = set()
    for path in paths:
        end = path.rfind("/")
        while end > 0 and path[:end] not in folders:
            folders.add(path[:end])
            end = path.rfind("/", 0, end)
    return folders


def _check_path(path: str) -> None:
    """A path fast-import takes as written and git checks out where it says: relative, normalized,
    no control characters, nothing inside `.git`."""
    parts = path.split("/")
    if (
        any(ord(c) < 32 or c == "\x7f" for c in path)
        or path.startswith('"')
        or any(p in ("", ".", "..") or p.lower() == ".git" for p in parts)
    ):
        raise PublishError(f"refusing to commit the path {path!r}: not a plain relative path")


def _bare(text: str) -> str:
    """A name or address as a commit header takes it: no angle brackets or line breaks."""
    return "".join(c for c in text if c not in "<>\n\r\0").strip()


def push_cas(repo: Repo, branch: str, expected: str | None, force: bool = False) -> bool:
    """Push HEAD only if the remote branch still points at `expected`; False when it moved.

    Any other failure raises `GitError` with its kind; a timeout too (the push may have landed:
    the caller asks the remote)."""
    lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
    refspec = f"{'+' if force else ''}HEAD:refs/heads/{branch}"
    code, out, err = repo.run("push", "-q", "--porcelain", lease, "origin", refspec)
    if code == 0:
        return True
    output = (out + err).strip()
    kind = classify(output)
    if kind == "moved":
        return False
    raise GitError("push", kind, redact(output, repo.secrets))


def remote_head(repo: Repo, branch: str) -> str | None:
    out = repo.git("ls-remote", "origin", f"refs/heads/{branch}")
    return out.split()[0] if out else None


def contains(repo: Repo, branch: str, commit: str) -> bool:
    """Whether the remote branch has `commit` in its history (fetched fresh)."""
    fetch_branch(repo, branch)
    return repo.ok("merge-base", "--is-ancestor", commit, f"refs/remotes/origin/{branch}")
