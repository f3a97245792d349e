"""The GitLab adapter: open or update one merge request per branch, retried, token never shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from renderer.errors import PublishError
from renderer.gitrepo import redact


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

        self._token = token
        self._client = gitlab.Gitlab(
            url,
            private_token=token,
            timeout=timeout,
            retry_transient_errors=True,
            max_retries=retries,
        )
        self._project_id = project
        self._errors: tuple[type[BaseException], ...] = (
            gitlab.exceptions.GitlabError,
            *_network_errors(),
        )

    def __call__(self, branch: str, target: str, title: str, body: str) -> str:
        try:
            project = self._client.projects.get(self._project_id, lazy=True)
            found = project.mergerequests.list(
                source_branch=branch, target_branch=target, state="opened", get_all=False
            )
            if found:
                mr: Any = found[0]
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
        except self._errors as exc:
            raise PublishError(
                "GitLab merge request for " + branch + " failed: " + redact(str(exc), [self._token])
            ) from None

    def note(self, mr_iid: int, marker: str, body: str) -> None:
        """One sticky note per marker: updated in place, never duplicated."""
        try:
            project = self._client.projects.get(self._project_id, lazy=True)
            mr = project.mergerequests.get(mr_iid, lazy=True)
            for note in mr.notes.list(get_all=True):
                if marker in (note.body or ""):
                    note.body = f"{marker}\n{body}"
                    note.save()
                    return
            mr.notes.create({"body": f"{marker}\n{body}"})
        except self._errors as exc:
            raise PublishError("GitLab note failed: " + redact(str(exc), [self._token])) from None


def _network_errors() -> tuple[type[BaseException], ...]:
    import requests

    return (requests.exceptions.RequestException,)
