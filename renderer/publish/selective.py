"""Render only what a publish can change.

A publish of some apps replaces only their scopes and the shared scope (`bookkeeping.owned_prefixes`),
so only those are rendered and checked: every stored app is still resolved (the graph decides the
shared resources, their owners and each app's recorded dependencies), but the other apps' objects are
neither rendered nor checked again (they were when they were published). The checks across apps
compare the new objects with the others' as their last publish wrote them (`elsewhere`).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Collection, Mapping, Sequence

from renderer.data import Json
from renderer.inputs.yamlio import YamlLoadError, load_generated
from renderer.render.tree import SHARED


def focus(changing: Collection[str], stored: Collection[str], platform_wide: bool) -> frozenset[str] | None:
    """The apps to render: those this publish changes (that still exist); None: every app."""
    if platform_wide:
        return None
    return frozenset(changing) & frozenset(stored)


def elsewhere(
    root: str, env_ids: Sequence[str], rendered: frozenset[str] | None
) -> dict[str, tuple[tuple[str, Json], ...]]:
    """Per environment, the Ingress objects the checkout holds for apps outside `rendered` (none
    when every app is rendered): what the host-and-path collision check needs of them."""
    if rendered is None:
        return {}
    out: dict[str, tuple[tuple[str, Json], ...]] = {}
    for env_id in env_ids:
        base = os.path.join(root, "kubernetes", env_id)
        found = []
        for path in sorted(glob.glob(os.path.join(glob.escape(base), "*", "*", "ingress-*.yaml"))):
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if rel.split("/")[2] in rendered or rel.split("/")[2] == SHARED:
                continue
            found += [(rel, doc) for doc in _objects(path, rel)]
        out[env_id] = tuple(found)
    return out


def _objects(path: str, rel: str) -> list[Json]:
    """The documents of one file the renderer wrote; one that no longer parses counts as none
    (it is replaced or reported by the publish that owns it)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [d for d in load_generated(fh.read(), rel) if isinstance(d, Mapping)]
    except (OSError, UnicodeDecodeError, YamlLoadError):
        return []
