"""The GitLab adapter: open or update one merge request per branch, token never shown.

Retries are python-gitlab's own: with `retry_transient_errors` it repeats a request after a
500, 502, 503, 504 or 52x answer, a dropped connection or a timeout; with `obey_rate_limit` it
waits out a 429 for as long as `Retry-After` says; `max_retries` bounds both, with its own
backoff (0.1 s, doubling). Whatever still fails becomes a `PublishError` with the token redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from renderer.errors import PublishError, redact

if TYPE_CHECKING:
    from gitlab.v4.objects import Project, ProjectMergeRequest

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0  # seconds per request; RENDERER_GITLAB_TIMEOUT overrides it at the edge
DEFAULT_RETRIES = 3


def settings_from(environ: Mapping[str, str]) -> tuple[str, str, str] | None:
    url = environ.get("RENDERER_GITLAB_URL") or environ.get("CI_SERVER_URL")
    token = environ.get("RENDERER_GITLAB_TOKEN") or environ.get("GITLAB_TOKEN")
    project = environ.get("RENDERER_ENV_REPO_PROJECT")
    if url and token and project:
        return url, token, project
    return None


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

    def note(self, mr_iid: int, marker: str, body: str) -> None:
        """One sticky note per marker: updated in place, never duplicated."""
        self._reported(f"note on !{mr_iid}", lambda: self._sticky(mr_iid, marker, body))

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

    def _sticky(self, mr_iid: int, marker: str, body: str) -> None:
        project = self._client.projects.get(self._project_id, lazy=True)
        mr = project.mergerequests.get(mr_iid, lazy=True)
        for note in mr.notes.list(get_all=True, max_retries=self._retries, obey_rate_limit=True):
            if marker in (note.body or ""):
                note.body = f"{marker}\n{body}"
                note.save(max_retries=self._retries, obey_rate_limit=True)
                return
        mr.notes.create({"body": f"{marker}\n{body}"}, max_retries=self._retries, obey_rate_limit=True)
