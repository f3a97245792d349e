"""Where the inputs are: the project root and the app directories a command works on."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from renderer.errors import UsageError
from renderer.inputs import app_repo, platform_config
from renderer.inputs.yamlio import DEFAULT_LIMITS
from renderer.model import App, Platform

# the checkout this package is part of: renderer/inputs/roots.py → the repo root
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_root(given: str | None, environ: Mapping[str, str]) -> str:
    """--root, else $RENDERER_ROOT, else the current directory, else the repo we ship in.

    A root that is named (--root, $RENDERER_ROOT) is the root or an error: never silently another."""
    for named, source in ((given, "--root"), (environ.get("RENDERER_ROOT"), "RENDERER_ROOT")):
        if named:
            if not _is_root(named):
                raise UsageError(f"{source} {named} is not a project root: it has no environments/ directory")
            return os.path.abspath(named)
    for candidate in (os.getcwd(), PACKAGE_ROOT):
        if _is_root(candidate):
            return os.path.abspath(candidate)
    raise UsageError("no project root found: pass --root pointing at a platform-config checkout")


def _is_root(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "environments"))


def jobs(environ: Mapping[str, str]) -> int:
    """Worker processes for rendering and checks: RENDERER_JOBS, else one per CPU."""
    given = environ.get("RENDERER_JOBS", "")
    return int(given) if given.isdigit() and int(given) > 0 else (os.cpu_count() or 1)


PLATFORM_TOPS = ("environments", "platform-config", "policies")  # what the platform team owns


def platform_files(root: str) -> dict[str, str]:
    """Every file the platform team owns (path relative to the root → sha256 of its content), in
    a stable walk order: folders sorted, each folder's files before its subfolders."""
    out: dict[str, str] = {}
    for top in PLATFORM_TOPS:
        for base, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(base, name)
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out[os.path.relpath(path, root).replace(os.sep, "/")] = digest
    return out


def platform_digest(root: str) -> str:
    """sha256 over every file the platform team owns (`platform_files`)."""
    h = hashlib.sha256()
    for rel, digest in platform_files(root).items():
        h.update(rel.encode() + b"\0" + bytes.fromhex(digest))
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Inputs:
    root: str
    platform: Platform
    apps: tuple[App, ...]


def app_dirs(root: str, names: Sequence[str]) -> list[str]:
    """App arguments are directories, or ids of the shipped example apps."""
    if not names:
        return app_repo.example_app_dirs(root)
    out = []
    for name in names:
        if os.path.isdir(name):
            out.append(os.path.abspath(name))
        elif os.path.isdir(os.path.join(root, "examples", "apps", name)):
            out.append(os.path.join(root, "examples", "apps", name))
        else:
            raise UsageError(f"app '{name}' is neither a directory nor a shipped example app")
    return out


def load(root: str, apps: Sequence[str]) -> Inputs:
    """Platform and apps together, so one run reports the problems of both."""
    from renderer.errors import InputError

    problems = []
    platform = None
    loaded: tuple[App, ...] = ()
    try:
        platform = platform_config.load_platform(root)
    except InputError as exc:
        problems.extend(exc.problems())
    try:
        limits = platform.trust.limits if platform else DEFAULT_LIMITS
        loaded = app_repo.load_apps(app_dirs(root, apps), root, limits=limits)
    except InputError as exc:
        problems.extend(exc.problems())
    if problems or platform is None:
        raise InputError(problems)
    return Inputs(root, platform, loaded)
