"""The resource graph of one environment: shared nodes, edges, a deterministic order, cycles."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from renderer.data import Json, PathKey
from renderer.errors import Collector, InputError, Problem
from renderer.inputs.placeholders import find_refs, split_ref
from renderer.inputs.score import expanded_strings
from renderer.model import Environment, ResourceDefinition, ScoreResource, Workload
from renderer.resolve import access
from renderer.resolve.matching import Match, Matcher, Request, match_resource


@dataclass(frozen=True, slots=True)
class Requester:
    app: str
    workload: str
    resource: str  # the resource's name in the Score file
    file: str
    line: int


@dataclass(slots=True)
class Node:
    """One resource instance in an environment."""

    uid: str
    type: str
    klass: str
    id: str | None
    name: str
    app: str | None  # None for shared nodes
    workload: str | None
    params: Mapping[str, Json]
    metadata: Mapping[str, Json]
    match: Match
    requesters: list[Requester] = field(default_factory=list)
    deps: dict[str, str] = field(default_factory=dict)  # alias or resource name → uid
    # who wrote `params` (a shared node takes them from one requester): they are resolved
    # against that requester's workload and bindings
    params_from: Requester | None = None

    @property
    def definition(self) -> ResourceDefinition:
        assert self.match.definition is not None
        return self.match.definition

    @property
    def shared(self) -> bool:
        return self.app is None

    def guid(self, env: str) -> str:
        return stable_id(env, self.app or "", self.uid)


def stable_id(*parts: str, length: int = 10) -> str:
    """A short, deterministic identifier: hash of its inputs, never random."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def private_uid(type_: str, klass: str, app: str, workload: str, name: str) -> str:
    return f"{type_}.{klass}#{app}.{workload}.{name}"


def shared_uid(type_: str, klass: str, id_: str) -> str:
    return f"{type_}.{klass}#{id_}"


@dataclass(frozen=True, slots=True)
class Graph:
    env: Environment
    nodes: Mapping[str, Node]
    order: tuple[str, ...]
    # (app, workload) → resource name → uid
    bindings: Mapping[tuple[str, str], Mapping[str, str]]


def build(
    env: Environment,
    workloads: Sequence[Workload],
    defs: Sequence[ResourceDefinition],
    owners: Mapping[str, str] | None = None,
) -> Graph:
    """`owners`: shared resource uid → the app recorded as its owner by earlier publishes."""
    problems = Collector()
    nodes: dict[str, Node] = {}
    bindings: dict[tuple[str, str], dict[str, str]] = {}
    matcher = Matcher(defs)
    for wl in workloads:
        bound = bindings.setdefault((wl.app, wl.name), {})
        for rname, res in sorted((wl.spec.get("resources") or {}).items()):
            node = _request(env, wl, rname, res, matcher, nodes, problems)
            if node is not None:
                bound[rname] = node.uid
    for wl in workloads:
        _param_edges(wl, bindings[(wl.app, wl.name)], nodes, problems)
    problems.extend(foreign_requests(nodes, owners or {}))
    _uses(env, defs, nodes, problems)
    problems.raise_if_any()
    order = _topological(nodes)
    return Graph(env, nodes, order, bindings)


def _request(
    env: Environment,
    wl: Workload,
    rname: str,
    res: ScoreResource,
    matcher: Matcher,
    nodes: dict[str, Node],
    problems: Collector,
) -> Node | None:
    type_, klass, rid = res["type"], res.get("class", "default"), res.get("id")
    path = ("resources", rname)
    match = _match(env, wl, rname, matcher, problems)
    if match is None or match.definition is None:
        return None
    requester = Requester(wl.app, wl.name, rname, wl.file, wl.doc.line(path))
    params, metadata = res.get("params") or {}, res.get("metadata") or {}
    refused = access.request_problem(match.definition, wl.app, params, rid)
    if refused:
        problems.extend([wl.doc.problem(path, f"not allowed: {refused}", "ask the platform team")])
        return None
    source = requester if params else None
    if rid is None:
        uid = private_uid(type_, klass, wl.app, wl.name, rname)
        if uid in nodes:  # shared requests whose id spells this private resource: theirs is refused
            problems.extend(_impostors(nodes[uid], wl))
        node = Node(
            uid, type_, klass, None, rname, wl.app, wl.name, params, metadata, match, params_from=source
        )
    else:
        uid = shared_uid(type_, klass, rid)
        existing = nodes.get(uid)
        if existing is not None and not existing.shared:
            problems.extend(
                _impostors(
                    Node(uid, type_, klass, rid, rid, None, None, {}, {}, match, [requester]), existing
                )
            )
            return None
        node = existing or Node(
            uid, type_, klass, rid, rid, None, None, params, metadata, match, params_from=source
        )
        if existing is not None:
            problems.extend(_join_shared(existing, wl, path, match, requester, params))
    node.requesters.append(requester)
    nodes[uid] = node
    return node


def _impostors(shared: Node, owner: Workload | Node) -> list[Problem]:
    """A shared id may not spell another workload's private resource (`APP.WORKLOAD.NAME`)."""
    whose = f"{owner.app}/{owner.name if isinstance(owner, Workload) else owner.workload}"
    return [
        Problem(
            r.file,
            r.line,
            f"resources.{r.resource}.id",
            f"id '{shared.id}' names a private resource of {whose}: no other workload may use it",
            "choose an id without the form APP.WORKLOAD.NAME",
        )
        for r in shared.requesters
    ]


def _match(env: Environment, wl: Workload, rname: str, matcher: Matcher, problems: Collector) -> Match | None:
    """The definition a workload's resource request matches; a miss explains itself."""
    res = (wl.spec.get("resources") or {})[rname]
    req = Request(res["type"], res.get("class", "default"), res.get("id"), wl.app, env)
    match = matcher.match(req)
    if match.definition is None:
        hint = "add a definition or change the type/class"
        problems.extend([wl.doc.problem(("resources", rname), match.miss_message(req), hint)])
        return None
    return match


def _join_shared(
    node: Node, wl: Workload, path: PathKey, match: Match, requester: Requester, params: Mapping[str, Json]
) -> list[Problem]:
    """A second request of a shared resource must match the same definition and agree on params."""
    assert match.definition is not None
    first = node.requesters[0] if node.requesters else None
    where = f"{first.app}/{first.workload}" if first else "where the platform uses it"
    if node.definition.id != match.definition.id:
        return [
            wl.doc.problem(
                path,
                f"shared resource {node.uid} matches '{match.definition.id}' here but "
                f"'{node.definition.id}' " + (f"for {where}" if first else where),
                "shared resources must resolve to one definition",
            )
        ]
    if params and node.params and params != node.params:
        source = f"{first.file}:{first.line}" if first else "the platform"
        return [
            wl.doc.problem(
                (*path, "params"),
                f"shared resource {node.uid} is given different params in {source}",
                "give the same params everywhere, or only in one place",
            )
        ]
    if params and not node.params:
        node.params, node.params_from = params, requester
    return []


def owner_of(node: Node, owners: Mapping[str, str]) -> str | None:
    """The app a shared resource belongs to: the recorded owner, else the first app (by name) asking."""
    if node.definition.access.shared != "app":
        return None
    apps = sorted({r.app for r in node.requesters})
    return owners.get(node.uid) or (apps[0] if apps else None)


def foreign_requests(nodes: Mapping[str, Node], owners: Mapping[str, str]) -> list[Problem]:
    """Requests of another app's shared resource: refused, naming the owner."""
    problems = []
    for uid in sorted(nodes):
        node = nodes[uid]
        owner = owner_of(node, owners) if node.shared else None
        for r in node.requesters if owner else []:
            if r.app != owner:
                message = f"shared resource {uid} belongs to app '{owner}': no other app may use it"
                problems.append(Problem(r.file, r.line, f"resources.{r.resource}", message, "use another id"))
    return problems


def _param_edges(wl: Workload, bound: Mapping[str, str], nodes: dict[str, Node], problems: Collector) -> None:
    for path, text in expanded_strings(wl.spec):
        if path[0] != "resources":
            continue
        owner = bound.get(str(path[1]))
        if owner is None or not _gives_params(nodes[owner], wl):
            continue
        for ref in find_refs(text):
            parts = split_ref(ref)
            if parts[0] == "resources" and len(parts) > 2 and parts[1] in bound:
                nodes[owner].deps[parts[1]] = bound[parts[1]]


def _gives_params(node: Node, wl: Workload) -> bool:
    """A shared node's params come from one requester: only its references are the node's edges."""
    source = node.params_from
    return source is None or (source.app, source.workload) == (wl.app, wl.name)


def _uses(
    env: Environment,
    defs: Sequence[ResourceDefinition],
    nodes: dict[str, Node],
    problems: Collector,
) -> None:
    """Follow `uses:` of every matched definition, adding shared nodes until none are new."""
    pending = sorted(nodes)
    while pending:
        uid = pending.pop(0)
        node = nodes[uid]
        if node.match.definition is None:
            continue
        for use in node.definition.uses:
            target = shared_uid(use.type, use.klass, use.id)
            if target not in nodes:
                req = Request(use.type, use.klass, use.id, None, env)
                match = match_resource(req, defs)
                if match.definition is None:
                    problems.extend(
                        [node.definition.doc.problem(["uses", use.alias], match.miss_message(req))]
                    )
                    continue
                nodes[target] = Node(target, use.type, use.klass, use.id, use.id, None, None, {}, {}, match)
                pending.append(target)
                pending.sort()
            node.deps[f"uses:{use.alias}"] = target


def _topological(nodes: Mapping[str, Node]) -> tuple[str, ...]:
    """Kahn's algorithm, always taking the smallest ready uid: the same order on every run."""
    indegree = {uid: 0 for uid in nodes}
    users: dict[str, list[str]] = {uid: [] for uid in nodes}
    for uid, node in nodes.items():
        for dep in set(node.deps.values()):
            indegree[uid] += 1
            users[dep].append(uid)
    ready = [uid for uid, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        uid = heapq.heappop(ready)
        order.append(uid)
        for user in users[uid]:
            indegree[user] -= 1
            if indegree[user] == 0:
                heapq.heappush(ready, user)
    if len(order) != len(nodes):
        raise InputError([_cycle_problem(nodes, {u for u, d in indegree.items() if d > 0})])
    return tuple(order)


def _cycle_problem(nodes: Mapping[str, Node], stuck: set[str]) -> Problem:
    start = min(stuck)
    path, seen = [start], {start}
    while True:
        nxt = min(d for d in nodes[path[-1]].deps.values() if d in stuck)
        if nxt in seen:
            cycle = path[path.index(nxt) :] + [nxt]
            break
        path.append(nxt)
        seen.add(nxt)
    node = nodes[cycle[0]]
    message, hint = f"resource graph has a cycle: {' → '.join(cycle)}", "break one of the references"
    if node.requesters:
        return Problem(node.requesters[0].file, node.requesters[0].line, "", message, hint)
    # requested by no workload: the edge is the definition's `uses` of the next member
    alias = min(key for key, dep in node.deps.items() if dep == cycle[1]).removeprefix("uses:")
    return node.definition.doc.problem(("uses", alias), message, hint)


def reach(graph: Graph, start: Iterable[str]) -> set[str]:
    """The nodes `start` names and every node they depend on (through `uses:` and outputs)."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        uid = todo.pop()
        if uid not in seen and uid in graph.nodes:
            seen.add(uid)
            todo.extend(graph.nodes[uid].deps.values())
    return seen


def requested_shared(graph: Graph, apps: Collection[str]) -> set[str]:
    """The shared nodes a workload of one of these apps requests."""
    return {
        uid
        for uid, node in graph.nodes.items()
        if node.shared and any(r.app in apps for r in node.requesters)
    }


def asker(node: Node) -> Requester | None:
    """The request that brings the node into a render: the one that gives its params, else its
    first requester (None: only used, through `uses:`)."""
    return node.params_from or (node.requesters[0] if node.requesters else None)


def shared_by_app(graph: Graph) -> dict[str, list[str]]:
    """Each app's `requested_shared`, in one pass over the graph (sorted uids)."""
    out: dict[str, set[str]] = {}
    for uid, node in graph.nodes.items():
        for r in node.requesters if node.shared else ():
            out.setdefault(r.app, set()).add(uid)
    return {app: sorted(uids) for app, uids in sorted(out.items())}


def shared_read_by_app(graph: Graph, apps: Collection[str] | None = None) -> dict[str, list[str]]:
    """The shared nodes each app's render reads (sorted uids): those its workloads request, and
    those these or its own resources use (`uses:`), however deep. Objects of the app kept as they
    are in an environment still read all of them there (`render/environment._kept`). It needs the
    apps' own nodes: a lean graph has none. `apps`: only these apps' (None: every app's)."""
    wanted = (lambda app: True) if apps is None else frozenset(apps).__contains__
    seeds: dict[str, set[str]] = {app: set(uids) for app, uids in shared_by_app(graph).items() if wanted(app)}
    for uid, node in graph.nodes.items():
        if node.app is not None and wanted(node.app):
            seeds.setdefault(node.app, set()).add(uid)
    out: dict[str, list[str]] = {}
    for app, todo in sorted(seeds.items()):
        used = sorted(u for u in reach(graph, todo) if graph.nodes[u].shared)
        if used:
            out[app] = used
    return out


class Before(NamedTuple):
    """What a focused render knows of the shared scope's last renders (`shared_to_resolve`)."""

    requested: Collection[str]  # the shared uids the apps it changes requested at their last render
    newer: Collection[str]  # the apps not rendered whose stored inputs are newer than their render
    stays: Callable[[Node], bool]  # whether a shared node nothing changes may stay as stored


def shared_to_resolve(
    graph: Graph,
    focus: Collection[str],
    requested: Collection[str],
    stays: Callable[[Node], bool],
) -> set[str]:
    """The shared nodes a render of the `focus` apps alone must resolve again; the others come out
    as their last render left them. A shared node is resolved from its definition, the
    environment, its params and first requester (and that requester's workloads) and the outputs
    of what it depends on: it changes only when a focus app requests it now or requested it at its
    last render (`requested`: those shared uids), when a node it depends on changes (a focus app's own
    among them), or when its definition, or that of a node it depends on, reads every workload
    (`all_workloads`). Terraform nodes are always resolved (below). A shared node that may stay as
    stored (`stays`: `pipeline._before`) is neither resolved for its definition nor for being
    Terraform, only when a focus app requests it (or did) or something it depends on changes."""
    definitions = {n.definition.id: n.definition for n in graph.nodes.values()}
    every = {d: reads_every_workload(definition) for d, definition in definitions.items()}
    seeds = requested_shared(graph, focus) | {u for u in requested if u in graph.nodes}
    seeds |= {
        u for u, n in graph.nodes.items() if n.app in focus or (every[n.definition.id] and not stays(n))
    }
    users: dict[str, list[str]] = {}
    for uid, node in graph.nodes.items():
        for dep in node.deps.values():
            users.setdefault(dep, []).append(uid)
    changed, todo = set(), list(seeds)
    while todo:
        uid = todo.pop()
        if uid not in changed:
            changed.add(uid)
            todo.extend(users.get(uid, ()))
    # the environment repo's main holds the Terraform Atlantis applied, not the Terraform rendered
    # since (it waits on its branch): a Terraform node is resolved whether it changed or not, unless
    # it stays as stored
    changed |= {
        u for u, n in graph.nodes.items() if n.shared and n.definition.driver == "terraform" and not stays(n)
    }
    # nodes that write to one folder (`<type>-<name>`: `postgres` `instance-x` and
    # `postgres-instance` `x` meet) are resolved together
    together = {shared_folder(graph.nodes[u]) for u in changed if graph.nodes[u].shared}
    return {u for u, n in graph.nodes.items() if n.shared and shared_folder(n) in together}


def shared_folder(node: Node) -> str:
    """The folder a shared node's objects go to, below the environment's `_shared/`."""
    return folder_of(node.type, node.name)


def folder_of(type_: str, id_: str) -> str:
    """`shared_folder` of the shared resource of this type and id."""
    return f"{type_}-{id_}"


def shared_parts(uid: str) -> tuple[str, str] | None:
    """A shared uid's type and id (`shared_uid`): what its folder and Terraform module are named
    after; None for anything else."""
    kind, hashed, id_ = uid.partition("#")
    type_, dotted, klass = kind.partition(".")
    return (type_, id_) if hashed and dotted and type_ and klass and id_ else None


def reads_every_workload(definition: ResourceDefinition) -> bool:
    """Whether the definition's templates may read `all_workloads`: any mention of the name counts
    (a template cannot reach a variable whose name it does not spell), and so does any `include` or
    `import` (another template may spell it)."""
    text = repr(definition.doc.data)
    return "all_workloads" in text or "include" in text or "import" in text
