"""Which platform files each app's render (and each environment's shared scope) depended on.

In: the platform and one analysed environment. Out: `Dependencies`, per app the files its objects
were made from (`uses`) and the files that were considered and lost (`candidates`: a change to their
criteria can change what matches). Paths are relative to the platform root; a folder (a module, a
policy set) ends in `/` and covers every file below it. `impact` names, per changed app, the changed
files it depends on; a platform change re-renders only apps whose record it touches.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from renderer.inputs.apis import APIS_FILE
from renderer.inputs.platform_config import TRUST_FILE
from renderer.model import Platform
from renderer.resolve.graph import reach

if TYPE_CHECKING:
    from renderer.resolve.analysis import Analysis

MODULES = "platform-config/modules"
POLICIES = "policies"


@dataclass(frozen=True, slots=True)
class Files:
    uses: tuple[str, ...] = ()  # sorted
    candidates: tuple[str, ...] = ()  # sorted, none of `uses`

    def union(self, other: Files) -> Files:
        return files(self.uses + other.uses, self.candidates + other.candidates)

    def touched_by(self, changed: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The changed files among `uses`, and among `candidates`."""
        paths = sorted(set(changed))
        return (
            tuple(p for p in paths if covers(self.uses, p)),
            tuple(p for p in paths if covers(self.candidates, p)),
        )


@dataclass(frozen=True, slots=True)
class Dependencies:
    apps: Mapping[str, Files]  # app id → what its own objects and Terraform depend on
    shared: Mapping[str, Files]  # app id → what the shared resources it reaches depend on

    def shared_scope(self) -> Files:
        """The environment's `_shared` scope: every app's part of it."""
        return _merge(self.shared.values())


def files(uses: Iterable[str], candidates: Iterable[str] = ()) -> Files:
    used = set(uses)
    return Files(tuple(sorted(used)), tuple(sorted(set(candidates) - used)))


def covers(record: Iterable[str], path: str) -> bool:
    """A recorded file is the path itself; a recorded folder (`…/`) covers everything below it."""
    return any(path == r or (r.endswith("/") and path.startswith(r)) for r in record)


def record(platform: Platform, analysis: Analysis, only: Collection[str] | None = None) -> Dependencies:
    """Each app's record (`only`: these apps'; None: every app's)."""
    env = analysis.env
    # trust.yaml: names, teams and cost centres; apis.yaml: which operators' objects an env gets
    base = [env.file, TRUST_FILE, APIS_FILE, *(f"{POLICIES}/{name}/" for name in sorted(env.policies))]
    nodes = analysis.graph.nodes
    apps: dict[str, Files] = {}
    shared: dict[str, Files] = {}
    for wl in analysis.workloads if only is None else [w for w in analysis.workloads if w.app in only]:
        reached = sorted(reach(analysis.graph, analysis.graph.bindings.get((wl.app, wl.name), {}).values()))
        own = [_node_files(platform, analysis, uid) for uid in reached]
        profile = analysis.profiles.get((wl.app, wl.name))
        if profile is not None:
            others = [p.file for p in platform.profiles if p.klass == profile.klass]
            own.append(files([profile.file], others))
        common = [files(base)]
        apps[wl.app] = _merge([apps.get(wl.app, Files()), *common, *own])
        parts = [_node_files(platform, analysis, uid) for uid in reached if nodes[uid].shared]
        shared[wl.app] = _merge([shared.get(wl.app, Files()), *common, *parts])
    return Dependencies(dict(sorted(apps.items())), dict(sorted(shared.items())))


def _node_files(platform: Platform, analysis: Analysis, uid: str) -> Files:
    node = analysis.graph.nodes[uid]
    definition = node.definition
    uses = [definition.file]
    if definition.driver == "terraform" and definition.module_source in platform.modules:
        uses.append(f"{MODULES}/{definition.module_source}/")
    return files(uses, [c.file for c in node.match.candidates])


def _merge(parts: Iterable[Files]) -> Files:
    out = Files()
    for part in parts:
        out = out.union(part)
    return out


def affected(records: Mapping[str, Files | None], changed: Iterable[str]) -> tuple[str, ...] | None:
    """Which of the recorded renders (app → its files, all environments together) a change of the
    platform files `changed` can alter; None: every one (a changed file that no record covers, such
    as a new definition, the renderer itself, or a render with no record, version 1)."""
    paths = sorted(set(changed))
    if any(r is None for r in records.values()):
        return None
    known = [r for r in records.values() if r is not None]
    if any(not any(covers(r.uses + r.candidates, p) for r in known) for p in paths):
        return None
    return tuple(
        app
        for app, r in sorted(records.items())
        if r is not None and any(covers(r.uses + r.candidates, p) for p in paths)
    )
