"""Where a publish works, and what ends it early: the temporary directory its clone goes in (swept
of killed runs' clones), SIGINT and SIGTERM turned into an error so every clean-up runs, and main's
head fetched while the renderer is still loading its inputs (`Early`).

Light on purpose: `renderer publish` enters all of this before it imports the renderer proper, so
the fetch and the imports run side by side (cli/publish.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import FrameType

from renderer.adapters import gitrepo
from renderer.errors import PublishError

STALE_AFTER = 3600.0  # seconds: a clone this old in the temp dir belongs to a run that was killed
CLONE_PREFIX = "renderer-publish-"
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


class Interrupted(PublishError):
    """SIGINT or SIGTERM arrived while publishing: raised so every `finally` runs."""


@contextlib.contextmanager
def directory(workdir: str | None, disk_errors: bool = True) -> Iterator[str]:
    """The directory the clones go in: a fresh temp dir (swept of killed runs' clones first and
    removed afterwards, however the run ends), or the caller's `workdir`, kept. `disk_errors`: a
    full or failing disk while inside is reported as the clone's (`PublishError`), not as a bug."""
    if workdir is None:
        sweep_stale(tempfile.gettempdir(), time.time())
    try:
        base = workdir or tempfile.mkdtemp(prefix=CLONE_PREFIX)
    except OSError as exc:
        raise PublishError(f"cannot create a temporary directory for the clone: {exc.strerror}") from None
    try:
        yield base
    except OSError as exc:
        if not disk_errors or exc.errno not in _DISK_ERRORS:
            raise  # not the disk: a bug, reported as one
        where = f" ({exc.filename})" if exc.filename else ""
        raise PublishError(
            f"writing the clone under {base} failed: {exc.strerror}{where}; nothing was pushed"
        ) from None
    finally:
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)


def sweep_stale(tmp: str, now: float, older_than: float = STALE_AFTER) -> list[str]:
    """Remove clones that killed runs left in `tmp`: ours (our uid), real directories, old enough
    that no live publish can still be using them. The paths removed."""
    removed: list[str] = []
    try:
        names = sorted(os.listdir(tmp))
    except OSError:
        return removed
    for name in names:
        if not name.startswith(CLONE_PREFIX):
            continue
        path = os.path.join(tmp, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue  # gone already (another run swept it)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or now - info.st_mtime < older_than:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


PUBLISHING = (
    "the clone was removed; the remote holds either its old head or this run's commit, never part of one"
)
LOADING = "nothing was published"


@dataclass(slots=True)
class _Handling:
    """The handlers in force (`signals_as_errors`): the signal that fired, what its error says."""

    fired: list[int]
    outcome: str


_handling: list[_Handling] = []  # at most one: nested calls reword the handlers in force


@contextlib.contextmanager
def signals_as_errors(outcome: str = PUBLISHING) -> Iterator[None]:
    """While publishing, SIGINT and SIGTERM raise `Interrupted`, saying `outcome` (once: a second
    signal does not cut the clean-up short, however deeply this is nested); the previous handlers
    come back afterwards. Nested inside another, it only changes what the error says from then on:
    once a publish began, "nothing was published" is no longer sure, even after it returned."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; its own handlers stay in force
        return
    if _handling:  # inside the CLI's: the same handlers, saying from now on what this part leaves
        _handling[0].outcome = outcome
        yield
        return
    state = _Handling([], outcome)

    def handler(signum: int, frame: FrameType | None) -> None:
        if state.fired:
            return
        state.fired.append(signum)
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}: {state.outcome}")

    previous: dict[signal.Signals, signal._HANDLER] = {}
    try:
        _handling.append(state)
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        state.fired.append(0)  # from here on the handler raises nothing, whatever lands meanwhile
        for sig, old in previous.items():
            signal.signal(sig, old)
        _handling.clear()


@dataclass(frozen=True, slots=True)
class Early:
    """Main's head being fetched (`--depth 1`, without file contents) into the clone a publish
    will use, started before the renderer loads the platform and the apps. A publish that reads
    little of the environment repo (one app's, `delivery._reads_little`) takes it; any other
    cancels it and fetches as it always did."""

    repo: gitrepo.Repo
    pending: gitrepo.Pending

    def head(self, secrets: tuple[str, ...]) -> tuple[gitrepo.Repo, str | None]:
        """The clone (its error messages hiding `secrets` too) and main's head; None where the fetch
        failed or main does not exist yet: the publish then fetches as usual and reports why."""
        repo = replace(self.repo, secrets=(*secrets, *self.repo.secrets))
        return repo, self.pending.wait()

    def cancel(self) -> None:
        self.pending.cancel()


def fetch_early(url: str, base: str, environ: Mapping[str, str], timeout: float, into: list[Early]) -> None:
    """Start fetching main's head into a clone in `base` (`Early`), in `into` (whose owner cancels
    it) before git starts. Where the clone cannot even be made (a full disk), nothing: the publish
    makes its own and reports why that fails."""
    try:
        repo = gitrepo.open_clone(url, os.path.join(base, "clone-early"), "main", environ, (), timeout)
    except (OSError, gitrepo.GitError):  # not `Interrupted`: a signal ends the run, here too
        return
    early = Early(repo, gitrepo.Pending(repo, "main", filtered=True))
    into.append(early)
    with contextlib.suppress(OSError):  # git could not start: no head, the publish fetches itself
        early.pending.start()
