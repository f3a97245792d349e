"""Reading files an app (or the platform) owns without ever leaving its directory.

Every path is relative to a root, is checked as text first (no absolute path, no `..`, no empty or
NUL component) and is then opened one component at a time relative to the directory opened before
it with `O_NOFOLLOW`: a symbolic link anywhere on the way is refused, not followed, so a file in an
app repo can never name the CI machine's files or another app's. Only regular files are read, and
never more than `max_bytes` of one (a FIFO or device is refused without blocking); a folder is
listed only up to `max_entries` names.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from renderer.errors import InputError, Problem
from renderer.model import limit_hint

DEFAULT_MAX_BYTES = 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class ConfinementError(InputError):
    """A path that leaves its root, crosses a symbolic link, or is not a regular file or folder."""

    kind = "platform"  # the platform's rule: an app reads only inside its own folder


def split(rel: str) -> list[str]:
    """The components of a relative path, or ValueError saying why it is not one we accept."""
    if not rel or "\0" in rel:
        raise ValueError("is empty or holds a NUL byte")
    if any(ord(c) < 32 or c == "\x7f" for c in rel):
        raise ValueError(
            "holds a control character (a line break, a tab): git and the environment repo cannot carry it"
        )
    if rel.startswith("/") or rel.startswith("\\"):
        raise ValueError("is absolute")
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError("climbs out of its folder with '..'")
    if not parts:
        raise ValueError("names the folder itself")
    try:
        os.fsencode(rel)
    except UnicodeEncodeError:  # a locale Python was told to keep (PYTHONUTF8=0 and LC_ALL=C, say)
        raise ValueError(
            "cannot be named in this machine's file-name encoding: run with a UTF-8 locale"
        ) from None
    return parts


# the ways a path is refused, as `Root` and `Listed` both word them: what it is, and what to do
_REFUSED = {
    "link": ("is or passes through a symbolic link", "links are not followed: commit the file itself"),
    "missing": ("does not exist", "paths are relative to the app directory"),
    "through": ("passes through something that is not a folder", ""),  # a file on the way
    "special": ("is not a regular file", ""),  # a folder, a FIFO, a device
    "long": (f"cannot be read ({os.strerror(errno.ENAMETOOLONG)})", ""),  # as `_os_error` says it
}


@dataclass(frozen=True, slots=True)
class Root:
    """A directory whose contents may be read, and nothing beyond it.

    `path` is where it is on this machine (chosen by the platform, so trusted); `display` is how
    problems name files (`examples/apps/shop`)."""

    path: str
    display: str
    max_bytes: int = DEFAULT_MAX_BYTES
    max_entries: int = 1000

    def name(self, rel: str) -> str:
        return f"{self.display}/{rel}" if self.display else rel

    def read(self, rel: str, yaml_path: str = "", owner_file: str = "") -> bytes:
        """The bytes of a regular file at `rel`; problems name `owner_file` at `yaml_path` if given."""
        with self._open(rel, yaml_path, owner_file) as fd:
            data = b""
            while len(data) <= self.max_bytes:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return data
                data += chunk
        raise self._error(
            rel,
            yaml_path,
            owner_file,
            f"is larger than {self.max_bytes} bytes (limits.file_bytes)",
            limit_hint("file_bytes"),
        )

    def kind(self, rel: str) -> str:
        """'file', 'dir', 'link', 'other' or 'missing' for `rel`, without following any link."""
        try:
            parts = split(rel)
        except ValueError:
            return "other"
        try:
            with self._walk(parts[:-1]) as parent:
                st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except (OSError, ConfinementError):
            return "missing"
        if stat.S_ISLNK(st.st_mode):
            return "link"
        if stat.S_ISREG(st.st_mode):
            return "file"
        return "dir" if stat.S_ISDIR(st.st_mode) else "other"

    def listdir(self, rel: str = "") -> list[tuple[str, str]]:
        """Sorted (name, kind) of a directory's entries; a link on the way to it is refused."""
        parts = split(rel) if rel else []
        names: list[str] = []
        try:
            with self._walk(parts) as fd, os.scandir(fd) as entries:
                for entry in entries:
                    names.append(entry.name)
                    if len(names) > self.max_entries:
                        what = f"holds more than {self.max_entries} entries (limits.app_files)"
                        raise self._error(rel, "", "", what, limit_hint("app_files"))
        except FileNotFoundError:
            return []
        names.sort()
        base = "/".join(parts)
        return [(n, self.kind(f"{base}/{n}" if base else n)) for n in names]

    @contextmanager
    def _open(self, rel: str, yaml_path: str, owner_file: str) -> Iterator[int]:
        try:
            parts = split(rel)
        except ValueError as exc:
            raise self._error(rel, yaml_path, owner_file, str(exc), "name a file inside the app") from None
        with self._walk(parts[:-1], rel, yaml_path, owner_file) as parent:
            try:
                fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=parent)
            except OSError as exc:
                raise self._os_error(exc, rel, yaml_path, owner_file) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise self._refused("special", rel, yaml_path, owner_file)
            yield fd
        finally:
            os.close(fd)

    @contextmanager
    def _walk(
        self, parts: list[str], rel: str = "", yaml_path: str = "", owner_file: str = ""
    ) -> Iterator[int]:
        """An open descriptor of root/parts, each component opened without following links."""
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in parts:
                try:
                    nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise self._os_error(exc, rel or "/".join(parts), yaml_path, owner_file) from None
                os.close(fd)
                fd = nxt
            yield fd
        finally:
            os.close(fd)

    def _os_error(self, exc: OSError, rel: str, yaml_path: str, owner_file: str) -> ConfinementError:
        if exc.errno in (errno.ELOOP, errno.EMLINK) or (
            exc.errno == errno.ENOTDIR and self._crosses_link(rel)
        ):
            return self._refused("link", rel, yaml_path, owner_file)
        if exc.errno == errno.ENOENT:
            return self._refused("missing", rel, yaml_path, owner_file)
        if exc.errno == errno.ENOTDIR:
            return self._refused("through", rel, yaml_path, owner_file)
        return self._error(rel, yaml_path, owner_file, f"cannot be read ({exc.strerror})")

    def _refused(self, reason: str, rel: str, yaml_path: str, owner_file: str) -> ConfinementError:
        """The error for one of the ways a path is refused (`_REFUSED`)."""
        what, hint = _REFUSED[reason]
        return self._error(rel, yaml_path, owner_file, what, hint)

    def refuse(
        self, rel: str, yaml_path: str, owner_file: str, what: str, hint: str = ""
    ) -> ConfinementError:
        """The error for a path this root will not read: `what` it is, named as `read` names it."""
        return self._error(rel, yaml_path, owner_file, what, hint)

    def _error(
        self, rel: str, yaml_path: str, owner_file: str, what: str, hint: str = ""
    ) -> ConfinementError:
        if owner_file:
            return ConfinementError(Problem(owner_file, 0, yaml_path, f"{rel!r} {what}", hint))
        shown = rel if rel.startswith("/") else self.name(rel) if rel else self.display
        return ConfinementError(Problem(shown, 0, yaml_path, f"this path {what}", hint))

    def _crosses_link(self, rel: str) -> bool:
        parts = split(rel)
        return any(self.kind("/".join(parts[: i + 1])) == "link" for i in range(len(parts)))


# git's modes (`ls-tree`) and the kind a checkout of each would have on disk: a submodule is an
# empty folder there
_KINDS = {"100644": "file", "100755": "file", "120000": "link", "160000": "dir", "040000": "dir"}


@dataclass(frozen=True, slots=True)
class Listed(Root):
    """A folder as git's objects hold it, read from memory with `Root`'s rules and words: what
    reading its checkout would give, without writing it to disk first (thousands of stored apps'
    inputs, read back at once, cost more to write than to parse).

    `files`: path inside the folder → (git's mode, its bytes; None for one that was not read: a
    link, a submodule, or a file larger than `max_bytes`)."""

    files: Mapping[str, tuple[str, bytes | None]] = field(default_factory=dict)
    _children: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for path in self.files:
            parts = path.split("/")
            for i in range(len(parts)):
                self._children.setdefault("/".join(parts[:i]), set()).add(parts[i])

    def read(self, rel: str, yaml_path: str = "", owner_file: str = "") -> bytes:
        try:
            parts = split(rel)
        except ValueError as exc:
            raise self._error(rel, yaml_path, owner_file, str(exc), "name a file inside the app") from None
        self._through(parts[:-1], rel, yaml_path, owner_file)
        kind = self._kind("/".join(parts))
        if _too_long(parts[-1]):  # the system refuses the name before it looks for it
            raise self._refused("long", rel, yaml_path, owner_file)
        if kind != "file":
            raise self._refused(
                kind if kind in ("link", "missing") else "special", rel, yaml_path, owner_file
            )
        data = self.files["/".join(parts)][1]
        if data is None or len(data) > self.max_bytes:
            what = f"is larger than {self.max_bytes} bytes (limits.file_bytes)"
            raise self._error(rel, yaml_path, owner_file, what, limit_hint("file_bytes"))
        return data

    def kind(self, rel: str) -> str:
        try:
            parts = split(rel)
        except ValueError:
            return "other"
        if any(self._kind("/".join(parts[:i])) != "dir" for i in range(1, len(parts))) or any(
            _too_long(part) for part in parts
        ):
            return "missing"  # as on disk: the way to it cannot be walked, or the name not looked up
        return self._kind("/".join(parts))

    def listdir(self, rel: str = "") -> list[tuple[str, str]]:
        parts = split(rel) if rel else []
        self._through(parts, "", "", "")  # named by its parts, as `Root._walk` names it
        names = sorted(self._children.get("/".join(parts), ()))
        if len(names) > self.max_entries:
            what = f"holds more than {self.max_entries} entries (limits.app_files)"
            raise self._error(rel, "", "", what, limit_hint("app_files"))
        base = "/".join(parts)
        return [(n, self.kind(f"{base}/{n}" if base else n)) for n in names]

    def _kind(self, path: str) -> str:
        if not path:
            return "dir"
        entry = self.files.get(path)
        if entry is not None:
            return _KINDS.get(entry[0], "other")
        return "dir" if path in self._children else "missing"

    def _through(self, parts: list[str], rel: str, yaml_path: str, owner_file: str) -> None:
        """Raise as `Root._walk` does when a folder on the way is not one."""
        for i in range(1, len(parts) + 1):
            where = rel or "/".join(parts)
            if _too_long(parts[i - 1]):
                raise self._refused("long", where, yaml_path, owner_file)
            kind = self._kind("/".join(parts[:i]))
            if kind != "dir":
                raise self._refused(
                    kind if kind in ("link", "missing") else "through", where, yaml_path, owner_file
                )


def _too_long(name: str) -> bool:
    """Longer than a file name may be on this machine (NAME_MAX: 255 bytes on Linux)."""
    return len(os.fsencode(name)) > 255


def read_file(path: str, shown: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """One file the platform owns, by its path on this machine: a link or special file is refused."""
    folder, name = os.path.split(path)
    try:
        return Root(folder, "", max_bytes).read(name)
    except ConfinementError as exc:
        problem = exc.problems()[0]
        raise ConfinementError(Problem(shown, 0, "", problem.message, problem.hint)) from None
