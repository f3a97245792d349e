"""The one sequencer of the pure stages: resolve → render → check, per environment, for every command.

`render`, `validate`, `publish` (and `diff`/`impact` as they come) all call `run`, so a dry run can
never differ from the real one. Environments are independent: with `jobs > 1` each one is resolved,
rendered and checked in its own worker process; the result is the same bytes either way.

The stages are imported by the functions that run them, not with this module: a command that ends
before any render (a publish with nothing to do) does not load the render, the checks and the
policy engine (`tests/perf/test_help_imports.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeAlias

from renderer.data import Json
from renderer.errors import Collector, InputError, Problem, of_kind
from renderer.model import App, Environment, Platform

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from renderer.checks.findings import Report
    from renderer.render.environment import EnvRender
    from renderer.render.tree import StoredShared, Tree
    from renderer.resolve.analysis import Analysis
    from renderer.resolve.graph import Before, Node

PREVIEW_TYPE = "preview"  # environments of this type hold previews of merge requests (publish/previews.py)


Progress = Callable[[str, int, int], None]  # (stage, done, total): how far a long run is; shown by the CLI


def silent(stage: str, done: int, total: int) -> None:
    """No progress shown (the library default; `--quiet`)."""


@dataclass(frozen=True, slots=True)
class Options:
    images: Mapping[str, str] = field(default_factory=dict)  # "workload[.container]" or "" → image
    jobs: int = 1  # worker processes; the output is the same either way
    skip_checks_for_tests: bool = False  # schemas and policies always run, except in unit tests
    # values of the renderer's own credentials (read at the edge): the secret scan looks for them
    sensitive: tuple[str, ...] = ()
    owners: Mapping[str, str] = field(default_factory=dict)  # shared resource uid → owning app
    app_owners: Mapping[str, str] = field(default_factory=dict)  # app → owning project, for messages
    # app → env → image (by tag) → digest, resolved at the edge; used only where the env pins images
    pins: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    # render and check only these apps' scopes and the shared scope (None: every app); the graph of
    # every app is still resolved, so shared resources come out the same (publish/selective.py)
    focus: frozenset[str] | None = None
    # env → documents of apps outside the focus, as their last publish wrote them: what the checks
    # across apps (Ingress host and path) compare the focus apps' objects with
    elsewhere: Mapping[str, tuple[tuple[str, Json], ...]] = field(default_factory=dict)
    # env → its shared scope as stored: with a focus, the shared resources the focus apps cannot
    # change are kept as stored, neither resolved, rendered nor checked again (an environment not
    # here: every shared resource is); with or without, those no app requests now that objects
    # kept as they are still read (`StoredShared.held`)
    stored: Mapping[str, StoredShared] = field(default_factory=dict)
    # each environment's result once checked: only the files, the graph's shared nodes and the
    # dependencies (what a publish reads), not the parsed objects, the resolved resources, the
    # apps' own nodes or the catalog as data, which cost several times the files' bytes in memory
    # and in a worker's reply
    lean: bool = False
    # the apps whose dependency records the caller reads (a publish: those whose indexes it
    # writes); None: every app's
    recorded: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Ahead:
    """An environment of a later run, rendered with an earlier one in the same worker pool (the
    protected environments of a publish, while the direct ones render: `publish/delivery.py`).
    The later run takes it only for the very same inputs (`_taken`)."""

    apps: tuple[App, ...]
    options: Options
    outcome: EnvOutcome


@dataclass(frozen=True, slots=True)
class Rendered:
    envs: tuple[EnvRender, ...]
    tree: Tree
    owned: tuple[str, ...]  # path prefixes this render replaces wholesale
    report: Report  # findings of the checks; denials have already raised
    ahead: Mapping[str, Ahead] = field(default_factory=dict)  # env id → rendered for a later run


def select_envs(platform: Platform, env_ids: Sequence[str] | None) -> list[Environment]:
    """The named environments; none named: every one but `preview` types (only `--preview` renders those)."""
    if not env_ids:
        envs = [platform.environments[k] for k in sorted(platform.environments)]
        return [e for e in envs if e.type != PREVIEW_TYPE]
    unknown = [e for e in env_ids if e not in platform.environments]
    if unknown:
        known = ", ".join(sorted(platform.environments))
        raise InputError(
            [Problem("environments", 0, "", f"unknown environment '{e}'", f"known: {known}") for e in unknown]
        )
    return [platform.environments[e] for e in sorted(set(env_ids))]


def analyse_env(platform: Platform, apps: Sequence[App], env_id: str) -> Analysis:
    """One environment up to the resolved graph, for `explain` and `graph`."""
    from renderer.resolve.analysis import analyse

    try:
        return analyse(platform, apps, select_envs(platform, [env_id])[0])
    except InputError as exc:
        raise InputError(of_kind(exc.problems(), "platform")) from None


def run(
    platform: Platform,
    apps: Sequence[App],
    env_ids: Sequence[str] | None,
    options: Options,
    progress: Progress = silent,
    ahead: Sequence[tuple[Environment, Options]] = (),
    ready: Mapping[str, Ahead] | None = None,
) -> Rendered:
    """Render and check; raises InputError (every render problem) or PolicyDenied (every denial).

    `ahead`: environments of a later run, rendered alongside when the run has worker processes, and
    returned unchecked by this run (`Rendered.ahead`); `ready`: such renders from an earlier run."""
    from renderer.checks import findings, secrets
    from renderer.render import terraform

    envs = select_envs(platform, env_ids)
    _check_platform(platform, options)
    results, tree, report, problems = [], {}, findings.Report(), Collector("platform")
    jobs = [(env, options) for env in envs]
    outcomes, extra = _each_env(platform, apps, jobs, ahead, ready or {}, progress)
    done = {
        env.id: Ahead(tuple(apps), opts, o)
        for (env, opts), o in zip(ahead, extra, strict=True)
        if o is not None
    }
    for outcome in outcomes:
        if isinstance(outcome, InputError):
            problems.extend(outcome.problems())
            continue
        env_render, env_report = outcome
        results.append(env_render)
        tree.update(env_render.tree)
        report.merge(env_report)
    problems.raise_if_any()
    if not options.skip_checks_for_tests:
        for app in apps if options.focus is None else [a for a in apps if a.id in options.focus]:
            report.secrets += secrets.scan_files(app, platform.trust.secret_allow)
    findings.enforce(report)
    tree.update(terraform.module_files(platform, [env.id for env in envs]))
    owned = [
        p
        for env in envs
        for p in (
            f"kubernetes/{env.id}/",
            f"terraform/{env.id}/",
            f"clusters/{env.id}/renderer/",
            f"catalog/{env.id}/",
        )
    ]
    return Rendered(tuple(results), tree, tuple(owned), report, done)


def _check_platform(platform: Platform, options: Options) -> None:
    """Problems in platform files no workload may use: template syntax, alert templates that do not
    render, policies that do not compile. A platform found sound once is not checked again in this
    process (a publish's later delivery groups render the same one)."""
    from renderer.checks import findings
    from renderer.render.kubernetes import observability
    from renderer.resolve import templates

    global _SOUND
    if _SOUND is not None and _SOUND[0] is platform and (_SOUND[1] or options.skip_checks_for_tests):
        return
    problems = Collector("platform")
    for definition in platform.definitions:
        problems.extend(templates.check_definition(definition.doc))
    problems.extend(observability.check_alerts(platform.profiles))
    if not options.skip_checks_for_tests:
        problems.extend(findings.compile_policies(platform))
    problems.raise_if_any()
    _SOUND = (platform, not options.skip_checks_for_tests)


# the platform `_check_platform` last found sound (it is frozen), and whether its policies were
# compiled too; only the last one is kept, so no platform outlives its use
_SOUND: tuple[Platform, bool] | None = None


EnvOutcome: TypeAlias = "tuple[EnvRender, Report] | InputError"


def _one_env(platform: Platform, apps: Sequence[App], env: Environment, options: Options) -> EnvOutcome:
    from renderer.checks import collisions, findings
    from renderer.render.environment import StoredUnreadable, render_env
    from renderer.resolve import dependencies
    from renderer.resolve import graph as graphs
    from renderer.resolve.analysis import analyse

    stored = options.stored.get(env.id)  # a render of every app: only what broken apps read
    rendered = [a.id for a in apps if options.focus is None or a.id in options.focus]
    pins = env_pins(options.pins, env)
    try:
        try:
            analysis = analyse(platform, apps, env, options.owners, options.focus, _before(stored))
            if stored is not None and (taken := _held_conflicts(stored, analysis, rendered)):
                raise InputError(taken)
            env_render = render_env(analysis, options.images, platform, pins, options.focus, stored)
        except StoredUnreadable:  # the shared scope rendered whole, as without a record
            stored = None
            analysis = analyse(platform, apps, env, options.owners, options.focus)
            env_render = render_env(analysis, options.images, platform, pins, options.focus)
    except InputError as exc:
        return InputError(of_kind(exc.problems(), "platform"))  # the inputs are read: the platform says no
    # a publish records it, for the apps whose indexes it writes
    reads = graphs.shared_read_by_app(analysis.graph, options.recorded) if options.lean else {}
    recorded = dependencies.record(platform, analysis, options.recorded)
    env_render = replace(env_render, dependencies=recorded, reads=reads)
    checked = _checked(options.focus, stored, analysis)
    if options.lean:  # a publish: the rendered apps' Ingress routes go into their indexes
        routes = collisions.routes_by_app(env.id, rendered, env_render.tree, env_render.documents)
        env_render = replace(env_render, routes=routes)
    if options.skip_checks_for_tests:
        return env_render, findings.Report()
    if options.lean:  # the checks read neither the resolved resources nor the profiles
        analysis = replace(analysis, resolved={}, profiles={})
        env_render = replace(env_render, analysis=analysis)
    others = _elsewhere(options.elsewhere.get(env.id, ()), env.id, env_render.kept)
    workloads = [wl for wl in analysis.workloads if checked is None or wl.app in checked]
    report = findings.evaluate(env_render, platform, options.sensitive, options.app_owners, others, workloads)
    if options.lean:  # what a publish reads of a render: the files, the shared nodes, the records
        graph = analysis.graph
        shared = {uid: node for uid, node in graph.nodes.items() if node.shared}
        graph = replace(graph, nodes=shared, order=tuple(u for u in graph.order if u in shared), bindings={})
        analysis = replace(analysis, graph=graph, workloads=())
        env_render = replace(env_render, analysis=analysis, documents={}, catalog={})
    return env_render, _fail_closed(report)


def _before(stored: StoredShared | None) -> Before | None:
    """What `analysis.analyse` and `graph.shared_to_resolve` read of the stored shared scope. The
    apps ahead of their render here request nothing here. A shared resource no rendered app
    requests (nor requested), and that nothing it depends on changes, stays as stored where objects
    kept here read it (`StoredShared.held`: apps ahead of their render, or no longer loading), even
    if its definition may read every workload; a Terraform one where main holds its module: its
    module is kept as it is. One they read whose module main does not hold waits on its Atlantis
    branch to be created: it is resolved, from the inputs there are, rather than left out of this
    branch (which would plan its destroy once both are merged)."""
    from renderer.render import terraform
    from renderer.resolve.graph import Before

    if stored is None:
        return None

    def stays(node: Node) -> bool:
        terraform_node = node.definition.driver == "terraform"
        return node.uid in stored.held and (
            not terraform_node or terraform.module_name(node) in stored.modules
        )

    return Before(stored.requested, stored.newer, stays)


def _held_conflicts(stored: StoredShared, analysis: Analysis, rendering: Collection[str]) -> list[Problem]:
    """What this render would change under the objects of apps it does not render whose inputs are
    not those of their render here (ahead of it, or no longer loading: `StoredShared.held`), where
    it cannot keep what they read as it is:
    - a shared resource they read that no node stands for any more, whose stored folder or main's
      Terraform module a resource resolved now writes to (another class of the same type and id);
    - a shared resource they read that is resolved again now, whose first requester (whose app and
      workloads its templates read) or whose params came from one of them at that render: resolved
      without it, it would change (a database named after its first requester is renamed), and
      their inputs of then are gone. The first requester then is the smallest of the apps that
      requested it then: those requesting it now but the rendered apps, and those whose record
      says so (`StoredShared.asked`: rendered apps, holders; one that only read it through
      `uses:` was not a requester). A holder that requested it then may have given its params
      where it sorts before the one giving them now, or no one gives them now: its params of then
      are gone with its inputs, so that is refused too (conservatively: it may have given none).
    A publish that must do either is refused, naming the app to publish there first. `rendering`:
    the apps this render renders."""
    from renderer.render import terraform
    from renderer.render.environment import stored_folders
    from renderer.resolve.graph import folder_of, shared_folder, shared_parts

    if not stored.held:  # the usual case: no app ahead of its render here
        return []
    env, graph, rendering = analysis.env.id, analysis.graph, {*rendering}
    taken: dict[str, Node] = {}  # the folders and modules resolved shared nodes write
    for uid in sorted(analysis.resolved):
        done, artifacts = graph.nodes[uid], analysis.resolved[uid].artifacts
        if done.shared and artifacts.objects:
            taken.setdefault(f"folder {shared_folder(done)}", done)
        if done.shared and artifacts.module is not None:
            taken.setdefault(f"module {terraform.module_name(done)}", done)
    present = stored_folders(stored, env)
    out = []
    for uid, holders in sorted(stored.held.items()):
        node = graph.nodes.get(uid)
        parts = shared_parts(uid)
        if node is None and parts is not None:
            folder, module = folder_of(*parts), terraform.module_name_of(*parts)
            names = [f"folder {folder}"] if folder in present else []
            names += [f"module {module}"] if module in stored.modules else []
            hit = next((n for n in names if n in taken), None)
            if hit is not None:
                whose = ", ".join(f"'{app}'" for app in holders)
                message = f"{taken[hit].uid} would take the {hit} of {uid}, which the objects of app {whose}"
                hint = f"give this resource another id, or publish {holders[0]} to {env} first"
                out.append(_at(taken[hit], f"{message} in {env} still read", hint))
            continue
        if node is None or uid not in analysis.resolved:
            continue
        asked = {*stored.asked.get(uid, ())}
        then = {r.app for r in node.requesters if r.app not in rendering} | asked
        if not then:  # never requested (only used): no requester's inputs in it
            continue
        giver = node.params_from.app if node.params_from is not None else None
        gave = sorted(h for h in asked & {*holders} if giver is None or h < giver)
        source = min(then) if min(then) in holders else (gave[0] if gave else None)
        if source is not None:
            out.append(
                _at(
                    node,
                    f"shared resource {uid} was rendered in {env} from app '{source}', whose objects "
                    f"there still read it and whose stored inputs are not those of that render: "
                    f"rendering it again now would change it under them",
                    f"publish {source} to {env} first (or roll it back)",
                )
            )
    return out


def _at(node: Node, message: str, hint: str) -> Problem:
    """A problem at the request that brings the node into this render."""
    from renderer.resolve.graph import asker

    where = asker(node)
    if where is None:
        return Problem(node.definition.file, 0, "", message, hint)
    return Problem(where.file, where.line, f"resources.{where.resource}", message, hint)


def _checked(
    focus: frozenset[str] | None, stored: StoredShared | None, analysis: Analysis
) -> frozenset[str] | None:
    """The apps whose Score workloads the checks read (None: every app's): those rendered now, and
    those whose stored inputs are newer than their render here (published to another environment
    only, say) where this render reads something of them: a resource resolved from them now
    (`_read_from`; as they request nothing here, only a definition reading `all_workloads` can).
    Any other app's inputs the render reads are those it was rendered and checked with here. With
    no record of the shared scope (`stored` None), it is rendered from every app's inputs as they
    are now, and every app's workloads are checked."""
    if focus is None or stored is None:
        return None
    if not stored.newer:  # the usual case: nothing to find out about the graph
        return focus
    return focus | (stored.newer & _read_from(analysis))


def _read_from(analysis: Analysis) -> frozenset[str]:
    """The apps whose inputs a resolved resource read: its own app, every app requesting it (a
    shared resource takes its parameters and workloads from one of them), and every app when its
    definition may read all workloads (`graph.reads_every_workload`)."""
    from renderer.resolve.graph import reads_every_workload

    nodes = [analysis.graph.nodes[uid] for uid in analysis.resolved]
    definitions = {node.definition.id: node.definition for node in nodes}
    if any(reads_every_workload(d) for d in definitions.values()):
        return frozenset(wl.app for wl in analysis.workloads)
    apps = {node.app for node in nodes if node.app is not None}
    apps.update(r.app for node in nodes for r in node.requesters)
    return frozenset(apps)


def _elsewhere(
    others: Sequence[tuple[str, Json]], env_id: str, kept: Sequence[str]
) -> tuple[tuple[str, Json], ...]:
    """The stored objects the checks across apps compare the render with: other apps', and the
    shared resources' the render kept as stored (those it rendered again are in the render)."""
    shared = f"kubernetes/{env_id}/_shared/"
    return tuple(
        (path, doc)
        for path, doc in others
        if not path.startswith(shared) or any(path.startswith(folder) for folder in kept)
    )


def env_pins(
    pins: Mapping[str, Mapping[str, Mapping[str, str]]], env: Environment
) -> dict[str, Mapping[str, str]]:
    """Each app's digests for this environment; none where the environment does not pin images."""
    if not env.pin_images:
        return {}
    return {app: by_env[env.id] for app, by_env in sorted(pins.items()) if env.id in by_env}


def _fail_closed(report: Report) -> Report:
    """A policy package that failed to evaluate checked nothing: it denies, whatever its set's mode."""
    from renderer.checks.rego.policyset import EVALUATION

    report.findings = [replace(f, mode="deny") if f.result.rule == EVALUATION else f for f in report.findings]
    return report


# apps × environments a run analyses (every render resolves every app's graph), or, where workers
# are not forked, apps × environments it renders: fewer are rendered without worker processes
IN_PROCESS_BELOW = 24


Job = tuple[Environment, Options]


def _each_env(
    platform: Platform,
    apps: Sequence[App],
    jobs: Sequence[Job],
    ahead: Sequence[Job],
    ready: Mapping[str, Ahead],
    progress: Progress,
) -> tuple[list[EnvOutcome], list[EnvOutcome | None]]:
    """Each job's outcome, in the order given (whatever order the workers finish in), taken from
    `ready` where it has the same inputs; and each `ahead` job's, None where it was not rendered
    (without worker processes rendering ahead saves nothing) or failed. Progress counts app ×
    environment renders, a whole environment at a time."""
    taken = [_taken(ready.get(env.id), apps, env, opts) for env, opts in jobs]
    todo = [job for job, outcome in zip(jobs, taken, strict=True) if outcome is None]
    total = len(apps) * len(jobs)
    progress("render", 0, total)
    done = len(apps) * (len(jobs) - len(todo))
    # the renders ahead first: their environments are the protected ones, most checked and slowest,
    # and this run waits for them too; ahead of nothing, a render saves nothing
    pooled = [*ahead, *todo] if todo else []
    workers = min(max((o.jobs for _, o in pooled), default=1), len(pooled))
    import multiprocessing

    # the start method a pool would use, without fixing it for the process (an in-process render
    # starts no pool, and whoever embeds the renderer may still choose one)
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    forked = method == "fork"
    # every render resolves every app's graph; a forked worker costs a fork and its reply, any
    # other a copy of the platform and every app: then only a large render is worth it
    rendered = sum(len(o.focus) if o.focus is not None else len(apps) for _, o in pooled)
    size = len(apps) * len(pooled) if forked else rendered
    if workers <= 1 or size < IN_PROCESS_BELOW:
        outcomes = []
        for env, opts in todo:
            outcomes.append(_one_env(platform, apps, env, opts))
            progress("render", done + len(outcomes) * len(apps), total)
        return _merged(taken, outcomes), [None] * len(ahead)
    from concurrent.futures import ProcessPoolExecutor, as_completed  # 15 ms of start-up: imported when used
    from concurrent.futures.process import BrokenProcessPool

    global _INHERITED
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        if forked:
            # the workers are forked at the first submit: they find the platform and the apps in
            # memory they share with this process, instead of each unpickling its own copy of them
            _INHERITED = (platform, apps)
            if not all(o.skip_checks_for_tests for _, o in pooled):
                # every worker's secret scan imports the detectors, and this process's scan after
                # them does too: imported once here, before the fork, they are every worker's
                from renderer.checks import secrets

                secrets.detectors()
            futures = [pool.submit(_inherited_env, env, opts) for env, opts in pooled]
        else:  # spawn, forkserver (Python 3.14's default on Linux): a worker gets them pickled
            futures = [pool.submit(_one_env, platform, apps, env, opts) for env, opts in pooled]
        mine = futures[len(pooled) - len(todo) :]
        for count, _ in enumerate(as_completed(mine), start=1):
            progress("render", done + count * len(apps), total)
        outcomes = [f.result() for f in mine]
        # a render ahead that failed is not this run's failure: the later run renders it again
        spare = [None if f.exception() is not None else f.result() for f in futures[: len(ahead)]]
        return _merged(taken, outcomes), spare
    except BrokenProcessPool:
        if not ahead:
            raise
    except BaseException:  # an error, or a signal turned into one (publish): end the workers now
        _end_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _INHERITED = None
    # a worker died (killed for its memory, say) with renders ahead in the pool: whichever render it
    # was, this run's own environments render again without them, as they would have alone
    return _each_env(platform, apps, jobs, (), ready, progress)[0], [None] * len(ahead)


# the platform and the apps of the pool being started, for its forked workers (`_each_env`)
_INHERITED: tuple[Platform, Sequence[App]] | None = None


def _inherited_env(env: Environment, options: Options) -> EnvOutcome:
    """`_one_env` in a forked worker, on the platform and apps it inherited."""
    assert _INHERITED is not None, "a worker forked without the inputs"
    return _one_env(*_INHERITED, env, options)


def _merged(taken: Sequence[EnvOutcome | None], rendered: Sequence[EnvOutcome]) -> list[EnvOutcome]:
    """The outcomes in job order: the taken ones where there are, the rendered ones in between."""
    fresh = iter(rendered)
    return [outcome if outcome is not None else next(fresh) for outcome in taken]


def _taken(ahead: Ahead | None, apps: Sequence[App], env: Environment, options: Options) -> EnvOutcome | None:
    """A render made ahead, when it had this run's inputs: the same apps and options for the same
    environment. The shared resources' recorded owners may differ (a run before this one records
    them): they only refuse requests of another app's resource, so the render is taken when they
    refuse none, as they refused none for it."""
    from renderer.resolve import graph as graphs

    if ahead is None or isinstance(ahead.outcome, InputError):
        return None
    env_render, _ = ahead.outcome
    if env_render.env != env or ahead.apps != tuple(apps):
        return None
    if replace(ahead.options, owners={}) != replace(options, owners={}):
        return None
    if graphs.foreign_requests(env_render.analysis.graph.nodes, options.owners):
        return None
    return ahead.outcome


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's worker processes instead of waiting for their renders to finish (leaving
    the pool's block waits for them: minutes at scale, past a CI job's grace after SIGTERM).
    Python 3.14 has `terminate_workers()`; before it the processes are only reachable here."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        process.terminate()
