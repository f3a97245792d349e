"""How a publish names what it pushes: branch scope, commit subject, MR title, the full app list.

Names stay short at any number of apps: a few apps are named (`shop+cart`), a larger set is named
by a stable hash of its sorted ids (`apps.3f2a9c1b0d4e`); the full list goes in the commit body
and the merge request's description. App ids are DNS labels, so neither `+` nor `.` can appear in
one: no app can name itself after another publish's branch.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterable, Sequence

from renderer.model import ALL_APPS_SCOPE

ALL_APPS = ALL_APPS_SCOPE  # reserved: no app may take the name
MAX_NAMED = 3  # apps named one by one in a branch or subject; more are named by their hash
MAX_SCOPE = 64  # characters of `a+b+c` in a branch name (a DNS label is at most 63)
UNKNOWN_SOURCE = "source commit: unknown"


def app_ids(apps: Iterable[str], removed: Iterable[str]) -> list[str]:
    """The apps a publish changes, sorted, each once."""
    return sorted({*apps, *removed})


def set_id(ids: Sequence[str]) -> str:
    """A stable short name for a set of apps: the same set, in any order, gives the same name."""
    digest = hashlib.sha256("\n".join(sorted(set(ids))).encode()).hexdigest()
    return f"apps.{digest[:12]}"


def scope(ids: Sequence[str], all_apps: bool) -> str:
    """What a branch name says about the apps: their ids, or the set's hash when too many or too long."""
    if all_apps:
        return ALL_APPS
    joined = "+".join(sorted(set(ids)))
    if len(set(ids)) <= MAX_NAMED and len(joined) <= MAX_SCOPE:
        return joined
    return set_id(ids)


def headline(ids: Sequence[str], all_apps: bool) -> str:
    """What a subject or title says about the apps: the names, or how many and the set's name."""
    name = scope(ids, all_apps)
    if all_apps or name != set_id(ids):
        return name
    return f"{len(set(ids))} apps ({name})"


def source(commit: str) -> str:
    """The source commit as a subject shows it; never a made-up one."""
    return f"@ {commit[:8]}" if commit else f"({UNKNOWN_SOURCE})"


def subject(kind: str, env_ids: Sequence[str], ids: Sequence[str], all_apps: bool, commit: str) -> str:
    """`render(dev,staging): shop @ feedbeef`: bounded whatever the number of apps."""
    return f"{kind}({','.join(env_ids)}): {headline(ids, all_apps)} {source(commit)}"


def app_list(ids: Sequence[str], all_apps: bool) -> str:
    """The full list for a commit body or MR description (empty when the scope already names them)."""
    if all_apps or scope(ids, all_apps) != set_id(ids):
        return ""
    names = ", ".join(sorted(set(ids)))
    wrapped = textwrap.fill(names, width=72, break_long_words=False, break_on_hyphens=False)
    return f"Apps ({len(set(ids))}, {set_id(ids)}):\n{wrapped}\n"
