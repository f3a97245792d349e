"""The GitLab adapter: open or update one merge request per branch, retried, token never shown."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from renderer.adapters.gitrepo import redact
from renderer.errors import PublishError

T = TypeVar("T")


def settings_from(environ: Mapping[str, str]) -> tuple[str, str, str] | None:
    url = environ.get("RENDERER_GITLAB_URL") or environ.get("CI_SERVER_URL")
    token = environ.get("RENDERER_GITLAB_TOKEN") or environ.get("GITLAB_TOKEN")
    project = environ.get("RENDERER_ENV_REPO_PROJECT")
    if url and token and project:
        return url, token, project
    return None


class MergeRequests:
    """Callable `(branch, target, title, body) → web url` over python-gitlab."""

    def __init__(self, url: str, token: str, project: str, timeout: float = 10.0, retries: int = 3) -> None:
        import gitlab  # imported here: it costs start-up time every other command would pay
        import requests

        self._token = token
        self._client = gitlab.Gitlab(url, private_token=token, timeout=timeout)
        self._project_id = project
        self._retries = retries
        self._errors: tuple[type[BaseException], ...] = (
            gitlab.exceptions.GitlabError,
            requests.exceptions.RequestException,
        )

    def __call__(self, branch: str, target: str, title: str, body: str) -> str:
        return self._retrying(
            f"merge request for {branch}", lambda: self._upsert(branch, target, title, body)
        )

    def note(self, mr_iid: int, marker: str, body: str) -> None:
        """One sticky note per marker: updated in place, never duplicated."""
        self._retrying(f"note on !{mr_iid}", lambda: self._sticky(mr_iid, marker, body))

    def _retrying(self, what: str, action: Callable[[], T]) -> T:
        """Transient failures (5xx, 429, network, timeouts) are retried with backoff, then reported."""
        for attempt in range(self._retries + 1):
            try:
                return action()
            except self._errors as exc:
                code = getattr(exc, "response_code", None)
                transient = code is None or code >= 500 or code == 429
                if attempt == self._retries or not transient:
                    reason = redact(str(exc) or type(exc).__name__, [self._token])
                    raise PublishError(f"GitLab {what} failed after {attempt + 1} tries: {reason}") from None
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def _upsert(self, branch: str, target: str, title: str, body: str) -> str:
        project = self._client.projects.get(self._project_id, lazy=True)
        found = project.mergerequests.list(
            source_branch=branch, target_branch=target, state="opened", get_all=False
        )
        if found:
            mr = found[0]
            mr.title, mr.description = title, body
            mr.save()
        else:
            mr = project.mergerequests.create(
                {
                    "source_branch": branch,
                    "target_branch": target,
                    "title": title,
                    "description": body,
                    "remove_source_branch": True,
                }
            )
        return str(mr.web_url)

    def _sticky(self, mr_iid: int, marker: str, body: str) -> None:
        project = self._client.projects.get(self._project_id, lazy=True)
        mr = project.mergerequests.get(mr_iid, lazy=True)
        for note in mr.notes.list(get_all=True):
            if marker in (note.body or ""):
                note.body = f"{marker}\n{body}"
                note.save()
                return
        mr.notes.create({"body": f"{marker}\n{body}"})
