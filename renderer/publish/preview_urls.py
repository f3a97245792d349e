"""Where a preview answers: the URLs its rendered Ingresses, HTTPRoutes and Routes route
(`render.routes`), read from the preview's own render, offline (the app's files and the platform
config, as `publish --preview` renders it): for `publish --preview`, `diff --preview` and
`renderer preview` (GitLab's environment link)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from renderer import pipeline
from renderer.data import Json
from renderer.errors import InputError, PolicyDenied, UsageError
from renderer.model import App, Platform
from renderer.publish import delivery, previews
from renderer.render import routes


@dataclass(frozen=True, slots=True)
class Located:
    """Where a preview answers: the URLs its rendered Ingresses/HTTPRoutes route (`render.routes`),
    the first one its URL (a host's root before its sub-paths, then by URL); none: "no route"."""

    name: str
    urls: tuple[str, ...]
    problem: str = ""  # why the preview does not render (`diff --preview` reports it, not fails)

    @property
    def url(self) -> str:
        return self.urls[0] if self.urls else ""

    def _none(self) -> str:
        if self.problem:
            return f"does not render in the preview environment: {self.problem}"
        return "no route (its render has no Ingress or HTTPRoute)"

    def text(self) -> str:
        also = "".join(f"preview also: {u}\n" for u in self.urls[1:])
        return f"preview: {self.url or f'{self.name}: {self._none()}'}\n{also}"

    def markdown(self) -> str:
        if not self.urls:
            return f"Preview environment `{self.name}`: {self._none()}"
        also = "".join(f"\n- <{u}>" for u in self.urls[1:])
        return f"Preview environment: <{self.url}>" + (f"\n\nIt also routes:{also}" if also else "")

    def as_json(self) -> dict[str, Json]:
        found: dict[str, Json] = {"preview": self.name, "preview_url": self.url or None}
        problem: dict[str, Json] = {"preview_problem": self.problem} if self.problem else {}
        return {**found, "preview_urls": list(self.urls), **problem}


def url(platform: Platform, req: delivery.Request) -> Located:
    """Where the preview `req` publishes answers (its app is already under the preview's name)."""
    options = pipeline.Options(dict(req.images), req.jobs, req.skip_checks_for_tests, req.sensitive)
    return locate(platform, req.apps[0], options)


def url_of_app(
    platform: Platform, apps: Sequence[App], mr: int | None, options: pipeline.Options | None = None
) -> Located | None:
    """Where the one app's preview of merge request `mr` would answer (None when no preview is asked
    for): rendered offline, from the app's files and the platform config alone. A preview that does
    not render says why instead: the diff it goes with is still worth showing."""
    if mr is None:
        return None
    try:
        return of_merge_request(platform, apps, mr, options or pipeline.Options())
    except (InputError, PolicyDenied) as exc:
        name = previews.preview_name(apps[0].id, mr, platform.trust.max_name_length)
        found = exc.problems()
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return Located(name, (), (found[0].render() + more) if found else exc.summary())


def of_merge_request(platform: Platform, apps: Sequence[App], mr: int, options: pipeline.Options) -> Located:
    """`url_of_app` for a merge request that is given."""
    if len(apps) != 1:
        raise UsageError("--preview names the preview of one app: give one --app")
    name = previews.preview_name(apps[0].id, mr, platform.trust.max_name_length)
    return locate(platform, previews.renamed(apps[0], name), options)


def locate(platform: Platform, app: App, options: pipeline.Options) -> Located:
    """The URLs of `app`'s preview (`app` under the preview's name), from its render alone."""
    env = previews.settings(platform).env
    rendered = previews.render(platform, {app.id: app}, [env.id], options)
    documents = rendered.envs[0].documents
    return Located(app.id, tuple(routes.urls(documents, f"kubernetes/{env.id}/{app.id}/")))
