"""The GitLab adapter: open or update one merge request per branch, token never shown.

Retries are python-gitlab's own: with `retry_transient_errors` it repeats a request after a
500, 502, 503, 504 or 52x answer, a dropped connection or a timeout; with `obey_rate_limit` it
waits out a 429 for as long as `Retry-After` says; `max_retries` bounds both, with its own
backoff (0.1 s, doubling). Whatever still fails becomes a `PublishError` with the token redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from renderer.errors import PublishError, UsageError, redact

if TYPE_CHECKING:
    from gitlab.v4.objects import Project, ProjectMergeRequest, ProjectMergeRequestNote

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0  # seconds per request; RENDERER_GITLAB_TIMEOUT overrides it at the edge
DEFAULT_RETRIES = 3


DRAFT = "Draft: "  # GitLab holds a merge request whose title starts so as a draft
NOTE_LIMIT = 1_000_000  # characters GitLab takes in one note (its `note` column's validation)


def settings_from(environ: Mapping[str, str]) -> tuple[str, str, str] | None:
    url, token = _instance(environ)
    project = environ.get("RENDERER_ENV_REPO_PROJECT")
    if url and token and project:
        return url, token, project
    return None


def _instance(environ: Mapping[str, str]) -> tuple[str, str]:
    url = environ.get("RENDERER_GITLAB_URL") or environ.get("CI_SERVER_URL") or ""
    token = environ.get("RENDERER_GITLAB_TOKEN") or environ.get("GITLAB_TOKEN") or ""
    return url, token


@dataclass(frozen=True, slots=True)
class NoteTarget:
    """The merge request a pipeline runs for: in a fork's MR, CI_PROJECT_ID is the fork, so the
    MR is addressed by CI_MERGE_REQUEST_PROJECT_ID (the project that holds it) and its IID."""

    url: str
    token: str = field(repr=False)
    project: str
    iid: int


def note_target_from(environ: Mapping[str, str]) -> NoteTarget:
    """Where `--post-note` posts; a usage error naming every variable that is missing."""
    url, token = _instance(environ)
    project = environ.get("CI_MERGE_REQUEST_PROJECT_ID", "")
    iid = environ.get("CI_MERGE_REQUEST_IID", "")
    missing = [
        name
        for name, value in (
            ("RENDERER_GITLAB_URL or CI_SERVER_URL", url),
            ("RENDERER_GITLAB_TOKEN or GITLAB_TOKEN", token),
            ("CI_MERGE_REQUEST_PROJECT_ID", project),
            ("CI_MERGE_REQUEST_IID", iid),
        )
        if not value
    ]
    if missing:
        raise UsageError(
            f"--post-note needs {', '.join(missing)} (GitLab sets the CI_MERGE_REQUEST_* variables only "
            "in merge request pipelines; the token is a masked CI/CD variable)"
        )
    if not iid.isdigit():
        raise UsageError(f"CI_MERGE_REQUEST_IID={iid!r}: expected a merge request's number")
    return NoteTarget(url, token, project, int(iid))


def post_sticky(target: NoteTarget, marker: str, body: str, timeout: float) -> str:
    """The one note `marker` names on the pipeline's merge request, created or updated in place;
    says which, as `note on !IID: created|updated`."""
    mrs = MergeRequests(target.url, target.token, target.project, timeout=timeout)
    return f"note on !{target.iid}: {mrs.note(target.iid, marker, body)}"


@dataclass(frozen=True, slots=True)
class Status:
    """One commit status on a merge request's head (Atlantis sets `atlantis/plan`, `atlantis/apply`)."""

    name: str
    state: str  # GitLab's: created, pending, running, success, failed, canceled, skipped
    at: str  # when it last changed (ISO 8601, as GitLab gives it)


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """An open merge request as a bot that acts on it needs to see it."""

    iid: int
    branch: str
    url: str
    mine: bool  # opened by the token's own user
    paths: tuple[str, ...]  # every file it changes (old and new names)
    statuses: tuple[Status, ...]  # the latest of each name, on its head commit
    my_notes: tuple[tuple[str, str], ...]  # (body, created_at) of the token's own notes


class MergeRequests:
    """Callable `(branch, target, title, body) → web url` over python-gitlab."""

    def __init__(
        self,
        url: str,
        token: str,
        project: str,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        import gitlab  # imported here: it costs start-up time every other command would pay
        import requests

        self._token = token
        self._client = gitlab.Gitlab(url, private_token=token, timeout=timeout, retry_transient_errors=True)
        # max_retries and obey_rate_limit are per request in python-gitlab: every call below passes them
        self._project_id = project
        self._retries = retries
        self._errors: tuple[type[Exception], ...] = (
            gitlab.exceptions.GitlabError,
            requests.exceptions.RequestException,
            ValueError,  # python-gitlab reads Retry-After as a number: an HTTP date breaks that
        )
        self._create_error: type[Exception] = gitlab.exceptions.GitlabCreateError

    def __call__(self, branch: str, target: str, title: str, body: str) -> str:
        return self._reported(
            f"merge request for {branch}", lambda: self._upsert(branch, target, title, body)
        )

    def draft(self, branch: str, target: str, title: str, body: str) -> str:
        """A merge request GitLab holds as a draft (its title starts with `Draft: `): it cannot be
        merged until someone marks it ready. Opened, or updated in place, as `__call__` does."""
        return self(branch, target, title if title.startswith(DRAFT) else DRAFT + title, body)

    def close(self, branch: str) -> bool:
        """Close the open merge request from `branch`, if there is one; whether one was closed."""
        return self._reported(f"closing the merge request for {branch}", lambda: self._close(branch))

    def _close(self, branch: str) -> bool:
        project = self._client.projects.get(self._project_id, lazy=True)
        found = project.mergerequests.list(
            source_branch=branch,
            state="opened",
            get_all=False,
            max_retries=self._retries,
            obey_rate_limit=True,
        )
        for mr in found:
            mr.state_event = "close"
            mr.save(max_retries=self._retries, obey_rate_limit=True)
        return bool(found)

    def note(self, mr_iid: int, marker: str, body: str) -> str:
        """One sticky note per marker and author: the token's own note holding `marker` is updated in
        place, else one is created; another user's note holding the marker is left alone. A note over
        GitLab's limit is refused before anything is sent. Returns "created" or "updated"."""
        text = f"{marker}\n{body}"
        if len(text) > NOTE_LIMIT:
            raise PublishError(
                f"the note for !{mr_iid} is {len(text):,} characters; GitLab takes at most {NOTE_LIMIT:,} "
                "in one note: shorten it (renderer diff --limit) and attach the full diff as an artifact"
            )
        return self._reported(f"note on !{mr_iid}", lambda: self._sticky(mr_iid, marker, text))

    def open_requests(self, prefix: str) -> list[OpenRequest]:
        """Every open merge request whose source branch starts with `prefix`, with what the Atlantis
        bot decides on: who opened it, the files it changes, its head's statuses, the bot's notes."""
        return self._reported(f"merge requests from {prefix}*", lambda: self._open_requests(prefix))

    def statuses(self, sha: str) -> tuple[Status, ...]:
        """The latest status of each name on a commit (Atlantis sets `atlantis/plan`, `atlantis/apply`)."""
        return self._reported(f"statuses of {sha[:12]}", lambda: self._statuses(sha))

    def _statuses(self, sha: str) -> tuple[Status, ...]:
        project = self._client.projects.get(self._project_id, lazy=True)
        found = project.commits.get(sha, lazy=True).statuses.list(
            get_all=True, max_retries=self._retries, obey_rate_limit=True
        )
        return tuple(Status(str(s.name), str(s.status), _changed_at(s.attributes)) for s in found)

    def comment(self, mr_iid: int, body: str) -> None:
        """A plain note (a command for a bot that reads notes, such as Atlantis)."""
        self._reported(f"note on !{mr_iid}", lambda: self._comment(mr_iid, body))

    def _comment(self, mr_iid: int, body: str) -> None:
        project = self._client.projects.get(self._project_id, lazy=True)
        mr = project.mergerequests.get(mr_iid, lazy=True)
        mr.notes.create({"body": body}, max_retries=self._retries, obey_rate_limit=True)

    def _open_requests(self, prefix: str) -> list[OpenRequest]:
        me = self._whoami()
        project = self._client.projects.get(self._project_id, lazy=True)
        opened = project.mergerequests.list(
            state="opened", get_all=True, max_retries=self._retries, obey_rate_limit=True
        )
        found = [self._seen(project, mr, me) for mr in opened if str(mr.source_branch).startswith(prefix)]
        return sorted(found, key=lambda r: r.iid)

    def _seen(self, project: Project, mr: ProjectMergeRequest, me: object) -> OpenRequest:
        diffs = self._client.http_list(
            f"/projects/{project.encoded_id}/merge_requests/{mr.iid}/diffs",
            get_all=True,
            max_retries=self._retries,
            obey_rate_limit=True,
        )
        statuses = project.commits.get(mr.sha, lazy=True).statuses.list(
            get_all=True, max_retries=self._retries, obey_rate_limit=True
        )
        notes = mr.notes.list(get_all=True, max_retries=self._retries, obey_rate_limit=True)
        changed = {
            str(d[k]) for d in diffs if isinstance(d, dict) for k in ("old_path", "new_path") if d.get(k)
        }
        return OpenRequest(
            iid=int(mr.iid),
            branch=str(mr.source_branch),
            url=str(mr.web_url),
            mine=isinstance(mr.author, dict) and mr.author.get("id") == me,
            paths=tuple(sorted(changed)),
            statuses=tuple(Status(str(s.name), str(s.status), _changed_at(s.attributes)) for s in statuses),
            my_notes=tuple(
                (str(n.body or ""), str(n.created_at or "")) for n in notes if _author_id(n) == me
            ),
        )

    def _reported(self, what: str, action: Callable[[], T]) -> T:
        """python-gitlab has retried what can be retried; what still fails is reported, token hidden."""
        try:
            return action()
        except self._errors as exc:
            code = getattr(exc, "response_code", None)
            status = f"HTTP {code}: " if code else ""
            reason = redact(str(exc) or type(exc).__name__, [self._token])
            raise PublishError(
                f"GitLab {what} failed ({status}retried up to {self._retries} times where that could help): "
                f"{reason}"
            ) from None

    def _upsert(self, branch: str, target: str, title: str, body: str) -> str:
        project = self._client.projects.get(self._project_id, lazy=True)
        found = self._open(project, branch, target)
        if found:
            found.title, found.description = title, body
            found.save(max_retries=self._retries, obey_rate_limit=True)
            return str(found.web_url)
        data = {
            "source_branch": branch,
            "target_branch": target,
            "title": title,
            "description": body,
            "remove_source_branch": True,
        }
        try:
            mr = project.mergerequests.create(data, max_retries=self._retries, obey_rate_limit=True)
        except self._create_error as exc:
            # a create retried after a timeout whose first try went through: GitLab refuses a second
            # open MR for the branch (409); the first one is ours
            again = self._open(project, branch, target) if getattr(exc, "response_code", 0) == 409 else None
            if again is None:
                raise
            mr = again
        return str(mr.web_url)

    def _open(self, project: Project, branch: str, target: str) -> ProjectMergeRequest | None:
        found = project.mergerequests.list(
            source_branch=branch,
            target_branch=target,
            state="opened",
            get_all=False,
            max_retries=self._retries,
            obey_rate_limit=True,
        )
        return found[0] if found else None

    def _sticky(self, mr_iid: int, marker: str, text: str) -> str:
        project = self._client.projects.get(self._project_id, lazy=True)
        mr = project.mergerequests.get(mr_iid, lazy=True)
        mine = self._own_note(mr, marker)
        if mine is not None:
            if mine.body != text:
                mine.body = text
                mine.save(max_retries=self._retries, obey_rate_limit=True)
            return "updated"
        mr.notes.create({"body": text}, max_retries=self._retries, obey_rate_limit=True)
        return "created"

    def _own_note(self, mr: ProjectMergeRequest, marker: str) -> ProjectMergeRequestNote | None:
        """The oldest note holding `marker` that the token's own user wrote (anyone can paste a marker)."""
        me = self._whoami()
        notes = mr.notes.list(get_all=True, max_retries=self._retries, obey_rate_limit=True)
        mine = [
            n
            for n in notes
            if _author_id(n) == me and marker in (n.body or "") and not getattr(n, "system", False)
        ]
        return min(mine, key=lambda n: int(n.id)) if mine else None

    def _whoami(self) -> object:
        """The token's own user id (`GET /user`, as `Gitlab.auth` asks, but with our bounded retries:
        `auth()` takes none and would retry a failing server ten times)."""
        user = self._client.http_get("/user", max_retries=self._retries, obey_rate_limit=True)
        me = user.get("id") if isinstance(user, dict) else None
        if me is None:
            raise PublishError("GitLab did not say which user the token belongs to (GET /user has no id)")
        return me


def _changed_at(status: Mapping[str, object]) -> str:
    """When a commit status last changed: GitLab sets `finished_at` and `started_at` only once it has."""
    return str(status.get("finished_at") or status.get("started_at") or status.get("created_at") or "")


def _author_id(note: ProjectMergeRequestNote) -> object:
    author = getattr(note, "author", None)
    return author.get("id") if isinstance(author, dict) else None
