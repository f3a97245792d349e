"""What the Atlantis tests share: the loopback GitLab's settings as the renderer reads them."""

from __future__ import annotations

from tests.fake_gitlab import TOKEN, FakeGitLab


def settings(gl: FakeGitLab) -> dict[str, str]:
    """The environment a publish (or the bot) needs to open merge requests on the loopback GitLab."""
    return {
        "RENDERER_GITLAB_URL": gl.url,
        "RENDERER_GITLAB_TOKEN": TOKEN,
        "RENDERER_ENV_REPO_PROJECT": "p/env",
    }
