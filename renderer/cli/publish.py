"""`renderer publish`: render, commit what changed and push to the environment repo (CI runs this).

This module reads the options and starts fetching main's head (`workspace.fetch_early`); the
renderer proper (cli/publishing.py) is imported while git fetches (at 1,000 apps the fetch of
main's commits and trees takes about as long as the imports)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import click

from renderer.adapters import gitrepo
from renderer.cli.base import exclusive, format_option, handled, quiet_option, repo_url, root_option, seconds
from renderer.publish import workspace


@click.command("publish")
@click.option("--env-repo", "url", required=True, help="Environment repo: path or git URL.")
@click.option(
    "--app",
    "apps",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="App directory of Score files (repeatable); its id is the directory name.",
)
@click.option("--all-apps", is_flag=True, help="Re-render every app stored in the env repo.")
@click.option("--remove-app", "remove", multiple=True, help="Remove an app's output.")
@click.option("--env", "envs", multiple=True)
@click.option("--all-envs", is_flag=True)
@click.option("--image", "image_pairs", multiple=True)
@click.option("--allow-mass-delete", is_flag=True)
@click.option("--destroyed", multiple=True, help="ENV/APP whose emptied Terraform was applied.")
@click.option(
    "--id-token-var",
    "token_var",
    default=None,
    help="Environment variable holding the GitLab ID token that proves who publishes (required in CI).",
)
@click.option("--app-id", "app_id", default=None, help="Owner (project path) for local runs; refused in CI.")
@click.option(
    "--preview", "preview", type=int, default=None, help="Publish the app as the preview of MR (its IID)."
)
@click.option("--remove-preview", "unpreview", type=int, default=None, help="Remove the app's preview of MR.")
@click.option(
    "--check-aws",
    is_flag=True,
    help="Ask AWS (as the environment's check role) for image digests where the environment pins them, "
    "and hold back objects whose secrets do not exist yet (a draft merge request carries them).",
)
@click.option("--shard", "shard", default=None, help="I/N: only check shard I of N of --all-apps (no push).")
@click.option("--shard-dir", default="shards", show_default=True, help="Where --shard writes its manifest.")
@click.option(
    "--merge-shards", "merge_dir", default=None, help="Publish --all-apps from the shards' manifests."
)
@root_option
@format_option
@quiet_option
@handled
def command(
    url: str,
    all_apps: bool,
    envs: tuple[str, ...],
    all_envs: bool,
    preview: int | None,
    unpreview: int | None,
    shard: str | None,
    merge_dir: str | None,
    **rest: object,
) -> None:
    """Render, commit what changed and push to the environment repo (CI runs this). Named here:
    the options this part reads; every option goes on to `publishing.run`, which types them all."""
    exclusive(envs, all_envs)
    gitrepo.check_url(url)  # before anything else: a token in the URL is refused, not used
    git_timeout = seconds(os.environ, "RENDERER_GIT_TIMEOUT", gitrepo.DEFAULT_TIMEOUT)
    # one app's publish reads little of main: start fetching it now (the publish checks it fits)
    little = not all_apps and preview is None and unpreview is None and shard is None and merge_dir is None
    started: list[workspace.Early] = []
    with (
        workspace.signals_as_errors(workspace.LOADING),
        workspace.directory(None, disk_errors=False) as base,
    ):
        try:
            if little:
                workspace.fetch_early(repo_url(url), base, os.environ, git_timeout, started)
            from renderer.cli import publishing

            early = started[0] if started else None
            publishing.run(early, base, git_timeout, **click.get_current_context().params)
        finally:
            for fetch in started:
                fetch.cancel()


def gitlab_missing(environ: Mapping[str, str]) -> list[str]:
    """The GitLab settings (as `gitlab.settings_from` reads them) that are not set."""
    wanted = (
        ("RENDERER_GITLAB_URL", "CI_SERVER_URL"),
        ("RENDERER_GITLAB_TOKEN", "GITLAB_TOKEN"),
        ("RENDERER_ENV_REPO_PROJECT",),
    )
    return [" or ".join(names) for names in wanted if not any(environ.get(n) for n in names)]
