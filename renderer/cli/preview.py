"""`renderer preview`: where an app's preview of a merge request answers, offline.

The app is rendered alone into the preview environment, as `publish --preview MR` would render it
(from its files and the platform config; no environment repo, no push), and the URLs of its
Ingresses/HTTPRoutes are printed, its URL first. `--dotenv FILE` writes `RENDERER_PREVIEW_URL` (and
`RENDERER_PREVIEW_NAME`) for GitLab's `artifacts:reports:dotenv`: the app template's
`renderer-preview` job sets its environment's `url:` from it.
"""

from __future__ import annotations

import json
import os

import click

from renderer import pipeline
from renderer.checks.secrets import sensitive_values
from renderer.cli.base import handled, images, root_option, write_file
from renderer.cli.diff import load_named
from renderer.inputs import platform_config, roots
from renderer.publish import preview_urls

URL_VAR, NAME_VAR = "RENDERER_PREVIEW_URL", "RENDERER_PREVIEW_NAME"


@click.command("preview")
@click.option(
    "--app", "app", required=True, type=click.Path(exists=True, file_okay=False), help="App folder."
)
@click.option("--mr", "mr", required=True, type=int, help="The merge request's IID.")
@click.option("--image", "image_pairs", multiple=True, help="WORKLOAD[.CONTAINER]=IMAGE for image '.'.")
@click.option(
    "--id-token-var",
    "token_var",
    default=None,
    help="Name the app as publish would: after the project a GitLab ID token in this variable proves.",
)
@click.option("--app-id", "app_id", default=None, help="Name the app as publish would for this owner.")
@click.option("--dotenv", "dotenv", default=None, help=f"Also write {URL_VAR}=URL to this file (dotenv).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@root_option
@handled
def command(
    app: str,
    mr: int,
    image_pairs: tuple[str, ...],
    token_var: str | None,
    app_id: str | None,
    dotenv: str | None,
    fmt: str,
    root: str | None,
) -> None:
    """Print where the app's preview of merge request MR answers (no route: says so, exit 0; a
    preview that does not render: why, exit 3 or 4, as `publish --preview` would)."""
    base = roots.find_root(root, os.environ)
    platform = platform_config.load_platform(base)
    apps = load_named(base, (app,), platform.trust, token_var, app_id)
    options = pipeline.Options(
        images(image_pairs), roots.jobs(os.environ), sensitive=sensitive_values(os.environ)
    )
    located = preview_urls.of_merge_request(platform, apps, mr, options)  # does not render: exit 3 or 4
    if dotenv:
        write_file(dotenv, dotenv_text(located))
    text = json.dumps(located.as_json(), indent=2, sort_keys=True) + "\n" if fmt == "json" else located.text()
    click.echo(text, nl=False)


def dotenv_text(located: preview_urls.Located) -> str:
    """The dotenv lines; no URL line when nothing routes (GitLab then leaves the environment's URL unset).
    Names and URLs hold only DNS and plain path characters (`render.routes`): nothing to quote."""
    url = f"{URL_VAR}={located.url}\n" if located.url else ""
    return f"{NAME_VAR}={located.name}\n{url}"
