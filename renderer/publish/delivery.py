"""`publish`: render into the environment repo, commit only what changed, push with compare-and-swap.

Every attempt starts from the newest remote head, renders every stored app (so shared resources
and kustomizations see the whole environment), replaces only the paths this publish owns, and
pushes with a lease on the head it rendered from. A rejected push fetches, re-renders and retries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from renderer import __version__, pipeline
from renderer.adapters import gitrepo
from renderer.checks.secrets import sensitive_values
from renderer.data import Json
from renderer.errors import Problem, PublishError, UsageError
from renderer.model import App, Environment, Limits, Platform, Trust
from renderer.publish import atlantis, bookkeeping, naming, phases, selective, workspace, writer
from renderer.publish.identity import Identity
from renderer.render.tree import StoredShared, Tree
from renderer.resolve import access


@dataclass(frozen=True, slots=True)
class Provenance:
    source_repo: str = "local"
    source_commit: str = ""  # empty: not known (a local run); shown as "source commit: unknown"
    platform_commit: str = "unknown"
    author: str = "platform-renderer <renderer@platform.invalid>"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], platform_commit: str) -> Provenance:
        """GitLab CI's variables where present; RENDERER_* override them."""
        get = environ.get
        return cls(
            source_repo=get("RENDERER_SOURCE_REPO") or get("CI_PROJECT_URL") or "local",
            source_commit=get("RENDERER_SOURCE_COMMIT") or get("CI_COMMIT_SHA") or "",
            platform_commit=get("RENDERER_PLATFORM_COMMIT") or platform_commit,
            author=get("RENDERER_AUTHOR")
            or get("CI_COMMIT_AUTHOR")
            or "platform-renderer <renderer@platform.invalid>",
        )

    def trailers(self) -> str:
        return (
            f"Source-Repo: {self.source_repo}\nSource-Commit: {self.source_commit or 'unknown'}\n"
            f"Platform-Config-Commit: {self.platform_commit}\n"
            f"Renderer-Version: {__version__}\nRendered-For: {self.author}\n"
        )


# the render step of one attempt (`_render_into`, or a preview's: publish/previews.py)
RenderInto = Callable[
    [Platform, "Request", gitrepo.Repo, Sequence[Environment], bookkeeping.Owners],
    tuple[writer.WriteResult, list[str]],
]


# the pure render of one attempt: `pipeline.run`, or a merge of shards' (publish/shards.py)
Run = Callable[
    [Platform, Sequence[App], Sequence[str] | None, pipeline.Options, pipeline.Progress], pipeline.Rendered
]


@dataclass(slots=True)
class Carried:
    """What a delivery group learns for the later groups of the same run (`publish` makes one per
    run; never kept across runs)."""

    ready: dict[str, pipeline.Ahead] = field(default_factory=dict)  # renders made ahead: env id → render
    loaded: bookkeeping.Loaded = field(default_factory=dict)  # stored apps, by their folder's tree
    removed: set[str] = field(default_factory=set)  # apps removed with their owner checked
    parsed: selective.Parsed = field(default_factory=dict)  # other apps' Ingresses, by path and bytes
    indexes: bookkeeping.ParsedIndexes = field(default_factory=dict)  # apps' indexes, by object id
    # apps a platform-wide group re-stored without rendering them in the later groups' environments
    restored: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    apps: tuple[App, ...] = ()  # new inputs of the apps being published
    all_apps: bool = False
    remove_apps: tuple[str, ...] = ()
    env_ids: tuple[str, ...] = ()
    images: Mapping[str, str] = field(default_factory=dict)
    allow_mass_delete: bool = False
    destroyed: tuple[str, ...] = ()  # "env/app" Terraform projects Atlantis has destroyed
    provenance: Provenance = Provenance()
    max_attempts: int = 8  # renders: a moved head means fetch, render and push again
    backoff: float = 0.05
    push_attempts: int = 4  # pushes of one commit: a network or server error means push it again
    push_backoff: float = 1.0  # seconds before the second push; doubles, with jitter
    git_timeout: float = gitrepo.DEFAULT_TIMEOUT  # seconds for each git command
    direct_only: bool = False  # the local demo: every environment straight to main
    platform_digest: str = ""  # hash of platform inputs; lets an unchanged app publish skip the render
    jobs: int = 1  # worker processes for the render
    # app → env → image (by tag) → digest, resolved at the edge (`publish --check-aws`): pinned output
    pins: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    skip_checks_for_tests: bool = False  # schemas and policies run on every publish, except in unit tests
    sensitive: tuple[str, ...] = ()  # the renderer's own credentials: the secret scan looks for them
    identity: Identity = Identity("local", True, "local")  # who publishes: checked against owners.json
    render_into: RenderInto | None = None  # another render step (a preview's); default `_render_into`
    progress: pipeline.Progress = pipeline.silent  # (stage, done, total) of a long run, for the CLI to show
    gate: phases.Gate = phases.Gate()  # `--check-aws`: objects waiting for secrets (publish/phases.py)
    run: Run | None = None  # the render; default `pipeline.run` (`--merge-shards`: publish/shards.py)
    # the later groups' environments, rendered alongside this group's in its worker pool (`publish`)
    ahead: tuple[Environment, ...] = ()
    carried: Carried = field(default_factory=Carried)  # what earlier groups of this run learnt


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str  # branch the group went to
    envs: tuple[str, ...]
    commit: str | None
    attempts: int
    written: int
    deleted: int
    merge_request: str = ""
    warnings: tuple[str, ...] = ()
    terraform_branch: str = ""  # direct environments: the branch holding their Terraform change
    terraform_commit: str | None = None
    terraform_merge_request: str = ""
    held: tuple[str, ...] = ()  # objects held back until AWS has their secrets (publish/phases.py)
    held_branch: str = ""
    held_merge_request: str = ""  # the draft merge request of the second phase


MergeRequests = Callable[[str, str, str, str], str]  # (branch, target, title, body) → url


def check_removable(name: str, trust: Trust) -> None:
    """A name given to `--remove-app` becomes a folder the publish owns: never a path, one file of
    another app, or a platform folder."""
    if not access.DNS_LABEL.fullmatch(name) or trust.reserved(name):
        raise UsageError(
            f"cannot remove app {name!r}: not an app name (a DNS label the platform does not reserve)"
        )


def publish(
    platform: Platform,
    req: Request,
    environ: Mapping[str, str],
    merge_requests: MergeRequests | None = None,
    workdir: str | None = None,
    drafts: phases.Drafts | None = None,
    early: workspace.Early | None = None,
) -> list[Outcome]:
    if not req.apps and not req.all_apps and not req.remove_apps:
        raise UsageError("nothing to publish: give --app DIR, --all-apps or --remove-app")
    gitrepo.check_url(req.url)
    direct, reviewed = split_by_delivery(platform, req)
    groups: list[tuple[tuple[Environment, ...], str]] = []
    if direct:
        groups.append((direct, "main"))
    for env in reviewed:
        groups.append(((env,), f"render/{env.id}/{_scope_name(req)}"))
    secrets = sensitive_values(environ)
    outcomes = []
    with workspace.signals_as_errors(), workspace.directory(workdir) as base:
        # one clone for every group, each checking main's head out again (`_checkout`)
        repo, heads = _clone(req, base, environ, secrets, early)
        carried = Carried()
        for i, (group, branch) in enumerate(groups):
            ahead = _ahead(req, [e for g, _ in groups[i + 1 :] for e in g if e.id not in carried.ready])
            group_req = dataclasses.replace(req, ahead=ahead, carried=carried)
            outcome = _publish_group(platform, group_req, repo, group, branch, heads)
            if branch == "main" and outcome.commit:
                # main is now the commit this group built and pushed: the next group starts from it
                # without fetching it back, while the remote's main is still that commit
                heads["main"] = outcome.commit
            if branch != "main" and outcome.commit and merge_requests is not None:
                title = _subject(req, "render", (group[0].id,))
                url = merge_requests(branch, "main", title, _mr_body(outcome, req))
                outcome = dataclasses.replace(outcome, merge_request=url)
            if outcome.terraform_commit and merge_requests is not None:
                outcome = _terraform_merge_request(req, outcome, merge_requests)
            outcomes.append(_second_phase(req, repo, outcome, drafts))
    return outcomes


def _clone(
    req: Request,
    base: str,
    environ: Mapping[str, str],
    secrets: tuple[str, ...],
    early: workspace.Early | None,
) -> tuple[gitrepo.Repo, dict[str, str | None]]:
    """The clone every group uses, and main's head as fetched, while no group of ours has moved it:
    the `early` fetch's where it fetched what this publish would (`_reads_little`, same remote and
    timeout), else a new clone with nothing fetched yet. An early fetch that failed leaves its clone
    behind (one ended mid-transfer holds git's `shallow.lock`): the publish starts afresh."""
    if early is not None:
        if _reads_little(req) and (early.repo.url, early.repo.timeout) == (req.url, req.git_timeout):
            repo, head = early.head(secrets)  # no "fetch" stage: it ran while the inputs loaded
            if head is not None:
                return repo, {"main": head}
        early.cancel()
    path = os.path.join(base, "clone-0")
    return gitrepo.open_clone(req.url, path, "main", environ, secrets, req.git_timeout), {}


def _ahead(req: Request, later: Sequence[Environment]) -> tuple[Environment, ...]:
    """The later groups' environments to render with this group's (each protected environment is a
    group of its own, so would render alone on one core): the default render, with workers."""
    if req.jobs <= 1 or req.run is not None or req.render_into is not None or req.gate.active:
        return ()
    return tuple(later)


def split_by_delivery(platform: Platform, req: Request) -> tuple[tuple[Environment, ...], list[Environment]]:
    """The selected environments committed straight to main, and those that go by merge request."""
    envs = pipeline.select_envs(platform, list(req.env_ids) or None)
    direct = tuple(e for e in envs if e.delivery == "direct" or req.direct_only)
    return direct, [e for e in envs if e not in direct]


def require_merge_requests(platform: Platform, env_ids: Sequence[str], missing: Sequence[str]) -> None:
    """Refuse, before anything is cloned or pushed, a publish to a protected environment that could
    push its branch but not open the merge request (`missing`: what GitLab settings lack)."""
    reviewed = split_by_delivery(platform, Request(url="", env_ids=tuple(env_ids)))[1]
    if not reviewed or not missing:
        return
    ids = ", ".join(e.id for e in reviewed)
    raise PublishError(
        f"{ids}: delivered by merge request, but GitLab is not configured ({', '.join(missing)} "
        "not set); nothing was pushed. Set them as CI/CD variables (the token masked and protected), "
        "or publish only the environments committed directly (--env)"
    )


def _changing(req: Request) -> list[str]:
    return naming.app_ids((a.id for a in req.apps), req.remove_apps)


def _scope_name(req: Request) -> str:
    return naming.scope(_changing(req), req.all_apps)


def _subject(req: Request, kind: str, env_ids: Sequence[str]) -> str:
    return naming.subject(kind, env_ids, _changing(req), req.all_apps, req.provenance.source_commit)


def _terraform_merge_request(req: Request, outcome: Outcome, merge_requests: MergeRequests) -> Outcome:
    title = _subject(req, "terraform", outcome.envs)
    apps = naming.app_list(_changing(req), req.all_apps)
    body = f"{atlantis.merge_request_body('', outcome.envs)}\n{_with_blank(apps)}{req.provenance.trailers()}"
    url = merge_requests(outcome.terraform_branch, "main", title, body)
    return dataclasses.replace(outcome, terraform_merge_request=url)


def _second_phase(
    req: Request, repo: gitrepo.Repo, outcome: Outcome, drafts: phases.Drafts | None
) -> Outcome:
    """`--check-aws`: the objects held back go to a draft merge request (publish/phases.py)."""
    if not req.gate.active:
        return outcome
    title = _subject(req, "render", outcome.envs)
    where = phases.Where(outcome.envs, _scope_name(req), outcome.target)
    second = phases.follow(repo, req.gate, where, title, req.provenance.author, drafts)
    held = tuple(req.gate.waiting(outcome.envs))
    return dataclasses.replace(
        outcome, held=held, held_branch=second.branch, held_merge_request=second.merge_request
    )


def _mr_body(outcome: Outcome, req: Request) -> str:
    warnings = "".join(f"- {w}\n" for w in outcome.warnings) or "- none\n"
    scope = naming.headline(_changing(req), req.all_apps)
    return (
        f"Policy warnings:\n{warnings}\n"
        f"Rendered by platform-renderer {__version__} for {scope}.\n\n"
        f"- environments: {', '.join(outcome.envs)}\n- files written: {outcome.written}\n"
        f"- files deleted: {outcome.deleted}\n- commit: {outcome.commit}\n\n"
        f"{phases.section(req.gate, outcome.envs, _scope_name(req))}"
        f"{_with_blank(naming.app_list(_changing(req), req.all_apps))}{req.provenance.trailers()}"
    )


def _publish_group(
    platform: Platform,
    req: Request,
    repo: gitrepo.Repo,
    envs: tuple[Environment, ...],
    branch: str,
    heads: dict[str, str | None],
) -> Outcome:
    """Fetch, render, commit, push with a lease; a moved head means fetch and render again. The
    first attempt takes main's head from `heads` (what an earlier group fetched, or pushed to
    main) while the remote's main is still that commit."""
    env_ids = tuple(e.id for e in envs)
    rng = random.Random()  # jitter only: it never reaches the output
    for attempt in range(1, req.max_attempts + 1):
        if attempt > 1:  # main moved: render this group alone, as soon as it can be
            req = dataclasses.replace(req, ahead=())
        # the head an earlier group fetched, while the remote still has it (`ls-remote`, no fetch):
        # every decision below, the "up to date" shortcut included, is made on the current head
        if attempt > 1 or "main" not in heads or gitrepo.remote_head(repo, "main") != heads["main"]:
            req.progress("fetch", 0, 1)
            heads["main"] = gitrepo.fetch_head(repo, "main", history=False, blobs=not _reads_little(req))
            req.progress("fetch", 1, 1)
        head = heads["main"]
        expected = head if branch == "main" else gitrepo.remote_head(repo, branch)
        # decided from the bookkeeping alone, before anything is checked out: a publish that changes
        # nothing costs a fetch, not a checkout of the whole environment
        with _records(repo, head, req.apps) as records:
            # before any shortcut: an impostor is refused, not "up to date"
            owners = _check_owner(req, records)
            # main holds this very publish, and no open merge request proposes something else (one
            # that does is rendered back to it: a reverted change must not stay proposed)
            if (branch == "main" or expected is None) and _unchanged(req, records, env_ids):
                return Outcome(branch, env_ids, None, attempt, 0, 0)
        if branch != "main" and _branch_holds(req, repo, branch, expected, head, env_ids):
            return Outcome(branch, env_ids, None, attempt, 0, 0)
        req.progress("checkout", 0, 1)
        _checkout(req, repo, head)
        req.progress("checkout", 1, 1)
        owners = _check_owner(req, repo.path)  # again, as the checkout holds it (confined reads)
        if branch != "main" and expected is not None:  # an open merge request: what it pins stays pinned
            from renderer.publish import pinning  # here: a publish that changes nothing never loads it

            pins = pinning.on_branch(repo, branch, _changing(req), env_ids, req.pins)
            req = dataclasses.replace(req, pins=pins)
        result, warnings = (req.render_into or _render_into)(platform, req, repo, envs, owners)
        message = _commit_message(req, env_ids, result)
        req.progress("commit", 0, 1)
        commit = gitrepo.commit_files(repo, head, result.data, result.deleted, message, req.provenance.author)
        req.progress("commit", 1, 1)
        if commit is not None:
            _at(repo, commit)
        if commit is None and branch != "main" and expected is not None and head is not None:
            commit = head  # the render is main's own tree: the open merge request must stop proposing more
        if commit is None or (branch != "main" and _same_tree(repo, branch, expected)):
            # the open merge request already holds this render: no push, no new pipeline, approvals kept
            return Outcome(branch, env_ids, None, attempt, 0, 0, warnings=tuple(warnings))
        split = atlantis.Split(commit, None)
        if branch == "main" and not req.direct_only:
            split = atlantis.split_commit(repo, head, commit, env_ids, message, req.provenance.author)
        if split.main is None or _push(req, repo, branch, expected, _at(repo, split.main), rng):
            if split.main is not None and not gitrepo.contains(repo, branch, split.main):
                raise PublishError(f"pushed {split.main[:12]} but {branch} on the remote lacks it")
            written, deleted = len(result.written), len(result.deleted)
            outcome = Outcome(
                branch, env_ids, split.main, attempt, written, deleted, warnings=tuple(warnings)
            )
            return _push_terraform(req, repo, outcome, split.terraform, rng)
        time.sleep(rng.uniform(0, req.backoff * 2 ** min(attempt, 6)))
    raise PublishError(
        f"gave up after {req.max_attempts} attempts: {branch} kept moving (every push was rejected "
        "because another publisher had pushed first); run the job again"
    )


def _reads_little(req: Request) -> bool:
    """Whether this publish reads few of the environment repo's files (the bookkeeping, the other
    apps' Ingresses and Terraform projects), so main is fetched without file contents and those
    are fetched as read (`gitrepo.fetch_head`). A platform-wide publish leaves the files of the
    apps it does not render as they are, unread (`_render_into`); a preview's render step checks
    everything out, so reads all of it."""
    return req.render_into is None


def _checkout(req: Request, repo: gitrepo.Repo, head: str | None) -> None:
    """Main's head into the clone, with only the bookkeeping on disk (`_on_disk`). Every other file
    is read from git's objects when something needs it (`_render_into`), and the commit is built
    from bytes over main's tree (`gitrepo.commit_files`): at thousands of apps, files nobody reads
    are neither written nor removed again. A preview's own render step reads the directory, so it
    gets everything."""
    if head is None or req.render_into is not None:
        gitrepo.checkout(repo, "main", head)
        return
    gitrepo.checkout_part(repo, "main", head, _on_disk)


def _on_disk(path: str) -> bool:
    """What a publish reads from the directory: the bookkeeping under `.render/` but the apps'
    folders, and the few files outside any app's folder. The stored apps' inputs and indexes are
    read from git's objects (`bookkeeping.stored_apps`, `bookkeeping.Indexes`): writing thousands
    of files costs more than reading them."""
    if path.startswith(bookkeeping.STORE + "/"):
        return False
    return path.startswith(".render/") or path.count("/") < 3


def _branch_holds(
    req: Request,
    repo: gitrepo.Repo,
    branch: str,
    expected: str | None,
    head: str | None,
    env_ids: Sequence[str],
) -> bool:
    """Whether a protected environment's MR branch already holds this very publish: its commit sits
    on main's head and records these inputs, platform and images for these environments (what the
    render would produce again; `_same_tree` would then skip the push). No render needed."""
    if expected is None or req.all_apps or req.remove_apps or req.destroyed or not req.apps:
        return False
    if req.gate.active:  # AWS was asked: what is held back may have changed
        return False
    ref = f"refs/remotes/origin/{branch}"
    gitrepo.fetch_branch(repo, branch, gitrepo.TIP)
    if gitrepo.parents(repo, ref) != [head]:  # one parent, main's head: nothing moved under it
        return False
    with _records(repo, ref, req.apps) as records:
        return bookkeeping.already_published(req.apps, _key(req), records, env_ids)


@contextlib.contextmanager
def _records(repo: gitrepo.Repo, commit: str | None, apps: Sequence[App]) -> Iterator[str]:
    """A directory holding what `commit` records of the owners and of `apps` (their `index.json`),
    read from git's objects: enough to refuse an impostor or skip an unchanged publish."""
    paths = [bookkeeping.OWNERS, *(bookkeeping.index_relpath(a.id) for a in apps)]
    listed = gitrepo.entries(repo, commit, paths) if commit else {}
    owners = listed.get(bookkeeping.OWNERS)
    if owners is not None and owners[0] not in gitrepo.REGULAR_MODES:  # as `read_owners` refuses it
        raise PublishError(
            f"{bookkeeping.OWNERS} is damaged (not a regular file); restore it from the repo's history"
        )
    found = gitrepo.read_files(repo, commit, paths, listed) if commit else {}
    with tempfile.TemporaryDirectory(prefix="renderer-records-") as tmp:
        for path, data in found.items():
            full = os.path.join(tmp, *path.split("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as fh:
                fh.write(data)
        yield tmp


def _at(repo: gitrepo.Repo, commit: str) -> str:
    """Point the checkout's branch at `commit` (what `push_cas` pushes)."""
    repo.git("update-ref", "HEAD", commit)
    return commit


def _push_terraform(
    req: Request, repo: gitrepo.Repo, outcome: Outcome, commit: str | None, rng: random.Random
) -> Outcome:
    """The direct environments' Terraform change, on its own branch for a merge request Atlantis
    applies (`publish/atlantis.py`); the same tree already there: left alone."""
    if commit is None:
        return outcome
    branch = atlantis.branch_name(outcome.envs, _scope_name(req))
    expected = gitrepo.remote_head(repo, branch)
    _at(repo, commit)
    if expected is not None and _same_tree(repo, branch, expected):
        return dataclasses.replace(outcome, terraform_branch=branch)
    if not _push(req, repo, branch, expected, commit, rng):
        raise PublishError(f"{branch} moved while this publish pushed it; run the job again")
    return dataclasses.replace(outcome, terraform_branch=branch, terraform_commit=commit)


def _push(
    req: Request, repo: gitrepo.Repo, branch: str, expected: str | None, commit: str, rng: random.Random
) -> bool:
    """Push one commit; False when the head moved. A network or server error pushes the same
    commit again after a backoff; a timeout does not (it already waited long). Either way the
    remote is asked first: a push can land and still fail on the way back."""
    for tries in range(1, req.push_attempts + 1):
        try:
            req.progress(f"push {branch}", 0, 1)
            pushed = gitrepo.push_cas(repo, branch, expected, force=branch != "main")
            req.progress(f"push {branch}", 1, 1)
            return pushed
        except gitrepo.GitError as exc:
            if exc.kind not in ("transient", "timeout"):
                raise
            if _landed(repo, branch, commit):
                return True
            if exc.kind == "timeout":
                raise PublishError(f"{exc}; {branch} on the remote does not have {commit[:12]}") from None
            if tries == req.push_attempts:
                raise exc.retried(tries) from None
        time.sleep(req.push_backoff * 2 ** (tries - 1) * rng.uniform(0.5, 1.0))
    raise AssertionError("push_attempts must be at least 1")


def _same_tree(repo: gitrepo.Repo, branch: str, expected: str | None) -> bool:
    """Whether the remote branch already holds exactly the committed tree (`expected`: its head
    when the render started; None when there is no such branch)."""
    if expected is None:
        return False
    ref = f"refs/remotes/origin/{branch}"
    gitrepo.fetch_branch(repo, branch, gitrepo.TIP)
    return repo.git("rev-parse", f"{ref}^{{tree}}") == repo.git("rev-parse", "HEAD^{tree}")


def _landed(repo: gitrepo.Repo, branch: str, commit: str) -> bool:
    """Whether the remote branch has the commit (another publisher may have built on it since)."""
    try:
        return gitrepo.contains(repo, branch, commit)
    except gitrepo.GitError:
        return False  # the remote cannot say: treat the push as not landed


def _commit_message(req: Request, env_ids: Sequence[str], result: writer.WriteResult) -> str:
    apps = _with_blank(naming.app_list(_changing(req), req.all_apps))
    counts = f"{len(result.written)} files written, {len(result.deleted)} deleted."
    return f"{_subject(req, 'render', env_ids)}\n\n{counts}\n\n{apps}{req.provenance.trailers()}"


def _with_blank(section: str) -> str:
    """A body section followed by a blank line; nothing when empty."""
    return f"{section}\n" if section else ""


def _check_owner(req: Request, root: str) -> bookkeeping.Owners:
    """The checkout's owner records; raises unless this publisher may change every app it names."""
    owners = bookkeeping.read_owners(root)
    changing = sorted({a.id for a in req.apps} | set(req.remove_apps))
    bookkeeping.check_ownership(owners, req.identity, changing, req.all_apps)
    return owners


def _render_into(
    platform: Platform,
    req: Request,
    repo: gitrepo.Repo,
    envs: Sequence[Environment],
    owners: bookkeeping.Owners,
) -> tuple[writer.WriteResult, list[str]]:
    """What this publish changes in the checkout `repo` (nothing is written: the commit is built
    from the bytes); only owned paths change. Every stored app is loaded and its graph built; only
    the apps it changes (all with --all-apps) and the shared scope are resolved and rendered."""
    root = repo.path
    changing = sorted({a.id for a in req.apps} | set(req.remove_apps))
    ids = [e.id for e in envs]
    # what main's tree holds, read from git's objects: a partial checkout (`_checkout`) leaves most
    # files out of the directory
    index = gitrepo.index(root)
    held = writer.Held(index, functools.partial(gitrepo.read_indexed, repo, index), gitrepo.blobs(index))
    indexes = bookkeeping.Indexes(held.read, held.blobs, req.carried.indexes)  # not on disk (`_on_disk`)
    apps, broken = _apps(repo, req, platform.trust.limits, _leftovers(req, held, ids))
    prints = selective.Prints.of(platform.root)
    # a merge of shards renders every app, as the shards checked them (publish/shards.py)
    focus = None if req.run is not None else _focus(req, indexes, held, changing, apps, ids, prints)
    options = _options(req, indexes, held, apps, owners, focus, ids, broken)
    ordered = tuple(apps[k] for k in sorted(apps))
    if req.run is not None:
        rendered = req.run(platform, ordered, ids, options, req.progress)
    else:
        ahead = [
            (e, _options_for(req, indexes, options, held, changing, apps, e, prints, broken))
            for e in req.ahead
        ]
        rendered = pipeline.run(platform, ordered, ids, options, req.progress, ahead, req.carried.ready)
        req.carried.ready.update(rendered.ahead)
    owned_apps = sorted(apps) if req.all_apps else changing
    prefixes = [*bookkeeping.owned_prefixes(ids, owned_apps, req.all_apps), bookkeeping.OWNERS]
    prefixes += bookkeeping.kept(sorted(broken), ids)
    # a platform-wide publish leaves the files of the apps it does not render again as they are:
    # neither read, nor rewritten, nor deleted (their indexes are written, listing those files)
    unrendered = sorted(set(apps) - focus) if req.all_apps and focus is not None else []
    prefixes += [f"!{p}" for p in bookkeeping.app_prefixes(ids, unrendered)]
    as_stored = [folder for env in rendered.envs for folder in env.kept]  # shared resources kept
    prefixes += [f"!{folder}" for folder in as_stored]
    owns = writer.owner(prefixes)
    tree = {p: d for p, d in rendered.tree.items() if owns(p)}
    phases.hold(tree, held, req.gate, ids, as_stored)
    scopes = selective.by_scope([*rendered.tree, *selective.outputs_of(held.paths, ids, unrendered)])
    shared = selective.requests(rendered.envs)
    stored = [a for a in owned_apps if a in apps]  # the indexes it writes
    committed = selective.output_ids(tree, held, ids, set(stored) - set(unrendered), unrendered)
    for app_id in stored:
        previous = indexes.get(app_id)
        key = _key(req, app_id, previous)
        tree.update(bookkeeping.store_inputs(apps[app_id], rendered, key, previous, scopes))
        if req.all_apps:  # a later group judges whether it is newer by its digest before
            _restored(req.carried.restored, app_id, previous, tree)
        selective.record(tree, app_id, previous, rendered.envs, prints, shared, committed)
    published = sorted(a.id for a in req.apps)
    tree[bookkeeping.OWNERS] = bookkeeping.owners_file(
        owners, req.identity, published, req.remove_apps, rendered
    )
    bookkeeping.terraform_tombstones(tree, held, prefixes, req.destroyed)
    if not req.allow_mass_delete:
        bookkeeping.mass_delete_guard(tree, held.paths, prefixes, ids)
    warnings = [_broken_warning(name, problems) for name, problems in sorted(broken.items())]
    warnings += [f.render() for f in rendered.report.warnings]
    change = writer.plan_rendered(
        tree, prefixes, platform, held, gitrepo.holds(index), req.progress, record=ids
    )
    return change, warnings


def _focus(
    req: Request,
    indexes: bookkeeping.Indexes,
    held: writer.Held,
    changing: Sequence[str],
    apps: Mapping[str, App],
    ids: Sequence[str],
    prints: selective.Prints,
) -> frozenset[str] | None:
    """The apps to render (None: all): those this publish changes; with --all-apps, also those whose
    recorded platform files changed (every app when it removes apps, resolves digests or destroys)."""
    if not req.all_apps or req.remove_apps or req.pins or req.destroyed:
        return selective.focus(changing, apps, req.all_apps)
    stale = selective.stale(indexes, held.paths, sorted(apps), ids, prints, req.carried.restored, held.blobs)
    return stale | (frozenset(changing) & frozenset(apps))


def _options(
    req: Request,
    indexes: bookkeeping.Indexes,
    held: writer.Held,
    apps: Mapping[str, App],
    owners: bookkeeping.Owners,
    focus: frozenset[str] | None,
    ids: Sequence[str],
    broken: Collection[str],
) -> pipeline.Options:
    return pipeline.Options(
        _images(req, indexes, apps),
        req.jobs,
        req.skip_checks_for_tests,
        req.sensitive,
        owners.resources,
        {**{a.id: req.identity.owner for a in req.apps}, **owners.apps},
        pins=_pins(req, indexes, apps),
        focus=focus,
        elsewhere=selective.elsewhere(held, ids, focus, req.carried.parsed, indexes),
        stored=_stored(req, held, indexes, ids, focus, apps, broken),
        lean=True,
        recorded=None if req.all_apps else focus,  # the indexes it writes (`owned_apps`)
    )


def _stored(
    req: Request,
    held: writer.Held,
    indexes: bookkeeping.Indexes,
    ids: Sequence[str],
    focus: frozenset[str] | None,
    loaded: Mapping[str, App],
    broken: Collection[str],
) -> dict[str, StoredShared]:
    """The shared scopes as stored, for a render that keeps what its focus cannot change (what
    the apps it removes requested counts as changed); for a render of every app, what the apps
    whose stored inputs no longer load read, as their last output stays."""
    if focus is None and not broken:
        return {}
    rendered = frozenset(loaded) if focus is None else focus
    restored, removed = req.carried.restored, req.remove_apps
    return selective.stored_shared(held, ids, rendered, loaded, indexes, restored, removed)


def _options_for(
    req: Request,
    indexes: bookkeeping.Indexes,
    options: pipeline.Options,
    held: writer.Held,
    changing: Sequence[str],
    apps: Mapping[str, App],
    env: Environment,
    prints: selective.Prints,
    broken: Collection[str],
) -> pipeline.Options:
    """`options` as a render of `env` alone would have them: its own focus and other apps' objects."""
    focus = _focus(req, indexes, held, changing, apps, [env.id], prints)
    return dataclasses.replace(
        options,
        focus=focus,
        elsewhere=selective.elsewhere(held, [env.id], focus, req.carried.parsed, indexes),
        stored=_stored(req, held, indexes, [env.id], focus, apps, broken),
    )


def _restored(
    restored: dict[str, tuple[str, str]], app_id: str, previous: Mapping[str, Json], tree: Tree
) -> None:
    """Note the digest `app_id` had before this run and the one this group stores it with
    (`Carried.restored`). Where the stored index is the one an earlier group of this run wrote,
    the digest before is the one that group noted."""
    written = json.loads(tree[bookkeeping.index_relpath(app_id)]).get("digest")
    seen, noted = previous.get("digest"), restored.get(app_id)
    before = noted[0] if noted is not None and seen == noted[1] else seen
    if isinstance(before, str) and isinstance(written, str):
        restored[app_id] = (before, written)


def _broken_warning(name: str, problems: Sequence[Problem]) -> str:
    first = problems[0].render() if problems else "unknown"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"SKIPPED app '{name}': its stored inputs no longer load, its last output is kept: {first}{more}"


def _apps(
    repo: gitrepo.Repo, req: Request, limits: Limits, leftover: Callable[[str], bool]
) -> tuple[dict[str, App], dict[str, list[Problem]]]:
    """The stored apps with this publish's new inputs and without the apps it removes; and the
    stored apps that no longer load (unless this publish replaces or removes them)."""
    # the apps this publish brings replace their stored inputs: those are not even read
    stored, broken = bookkeeping.stored_apps(repo, limits, req.carried.loaded, [a.id for a in req.apps])
    # removed here with their owner checked (`_check_owner`): a later group may remove what is left
    req.carried.removed.update(n for n in req.remove_apps if n in stored or n in broken)
    return with_change(stored, broken, req, "app", leftover)


def _leftovers(req: Request, held: writer.Held, env_ids: Sequence[str]) -> Callable[[str], bool]:
    """Whether an app no longer stored may still be removed: its files are left in these
    environments, and either an earlier group of this run removed it (a protected environment's
    group runs after the direct group removed its inputs and its owner record), or the platform
    asks. Anyone else could otherwise remove another team's leftovers: without a record, nobody
    owns them."""

    def may(name: str) -> bool:
        if name not in req.carried.removed and not req.identity.platform:
            return False
        owns = writer.owner(bookkeeping.app_prefixes(env_ids, [name]))
        return any(owns(p) for p in held.paths)

    return may


def with_change(
    stored: dict[str, App],
    broken: dict[str, list[Problem]],
    req: Request,
    what: str,
    leftover: Callable[[str], bool] = lambda name: False,
) -> tuple[dict[str, App], dict[str, list[Problem]]]:
    """`stored` with this publish's new inputs and without what it removes; and the stored
    `what`s (apps, previews) that no longer load, unless this publish replaces or removes them.
    Removing one that is not stored is refused, unless what is left of it may go (`leftover`)."""
    apps = {**stored, **{a.id: a for a in req.apps}}
    for name in req.remove_apps:
        if name not in apps and name not in broken and not leftover(name):
            raise UsageError(f"cannot remove {what} '{name}': the environment repo holds no such {what}")
        apps.pop(name, None)
    changed = {a.id for a in req.apps} | set(req.remove_apps)
    return apps, {k: v for k, v in broken.items() if k not in changed}


def _key(
    req: Request, app_id: str | None = None, previous: Mapping[str, object] | None = None
) -> bookkeeping.DigestKey:
    """The digest key: this run's images for the apps it publishes; for an app only re-rendered
    (`--all-apps`), the images its index recorded, so they stay recorded."""
    if app_id is None or previous is None:
        return bookkeeping.DigestKey(req.platform_digest, req.images)
    pins = {**bookkeeping.recorded_pins(previous), **req.pins.get(app_id, {})}
    if app_id in {a.id for a in req.apps}:
        return bookkeeping.DigestKey(req.platform_digest, req.images, pins)
    recorded = previous.get("images")
    images = (
        {str(k): v for k, v in recorded.items() if isinstance(v, str)}
        if isinstance(recorded, Mapping)
        else {}
    )
    return bookkeeping.DigestKey(req.platform_digest, images, pins)


def _pins(
    req: Request, indexes: bookkeeping.Indexes, apps: Mapping[str, App]
) -> dict[str, dict[str, Mapping[str, str]]]:
    """The digests each app's index recorded, with those this run resolved over them."""
    out: dict[str, dict[str, Mapping[str, str]]] = {}
    indexes.load(apps)
    for name in sorted(apps):
        pins = {**bookkeeping.recorded_pins(indexes.get(name)), **req.pins.get(name, {})}
        if pins:
            out[name] = pins
    return out


def _images(req: Request, indexes: bookkeeping.Indexes, apps: Mapping[str, App]) -> dict[str, str]:
    """This run's `--image` values over those the other stored apps were published with (never
    for a workload of an app published now: its images come from this run alone)."""
    now = {a.id for a in req.apps}
    ours = {wl.name for a in req.apps for wl in a.workloads}
    indexes.load(apps)
    recorded = bookkeeping.recorded_images(indexes.get, apps, now)
    kept = {k: v for k, v in recorded.items() if k.partition(".")[0] not in ours}
    return {**kept, **req.images}


def _unchanged(req: Request, root: str, env_ids: Sequence[str]) -> bool:
    if req.all_apps or req.remove_apps or req.destroyed or req.pins or req.gate.active:  # AWS asked: render
        return False
    return bookkeeping.already_published(req.apps, _key(req), root, env_ids)


# ---- read-only helpers for `diff` (renderer/publish/preview.py) --------------------------------


def targets(platform: Platform, req: Request) -> list[tuple[tuple[Environment, ...], str]]:
    """The groups `publish` delivers, each with its branch: direct environments together to main,
    each protected one to its own MR branch (`render/<env>/<scope>`)."""
    envs = pipeline.select_envs(platform, list(req.env_ids) or None)
    direct = tuple(e for e in envs if e.delivery == "direct" or req.direct_only)
    groups: list[tuple[tuple[Environment, ...], str]] = [(direct, "main")] if direct else []
    return groups + [((e,), f"render/{e.id}/{_scope_name(req)}") for e in envs if e not in direct]


def render_checkout(
    platform: Platform, req: Request, root: str, envs: Sequence[Environment]
) -> tuple[writer.WriteResult, list[str]]:
    """What one publish attempt changes (the same function), written into the checkout at `root`,
    with no commit and no push; owners as recorded, not checked (nothing reaches the remote)."""
    result, warnings = _render_into(platform, req, gitrepo.local(root), envs, bookkeeping.read_owners(root))
    writer.apply(root, result)
    return result, warnings
