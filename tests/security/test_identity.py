"""Who publishes is proven, not claimed: GitLab ID tokens verified against the instance's keys.

A loopback HTTP server plays the GitLab instance: it publishes a JWKS at /oauth/discovery/keys,
as GitLab does; tokens are signed with its key (or, for the attacks, with another one).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from renderer.errors import EXIT_POLICY
from tests.conftest import git
from tests.security.test_walls import CANARY, app, publish, repo_text

AUDIENCE = "platform-renderer"


class Instance:
    """The GitLab instance: its URL, its signing key, and what its JWKS publishes."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = json.dumps({"keys": [{**jwk, "kid": "gitlab-1", "use": "sig", "alg": "RS256"}]}).encode()
        instance = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = instance.jwks if self.path == "/oauth/discovery/keys" else b"{}"
                self.send_response(200 if self.path == "/oauth/discovery/keys" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, project: str, sha: str, key: rsa.RSAPrivateKey | None = None, **claims: object) -> str:
        now = int(time.time())
        body = {
            "iss": self.url,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "project_path": project,
            "sha": sha,
            "ref": "main",
            **claims,
        }
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": "gitlab-1"})


@pytest.fixture
def gitlab() -> Iterator[Instance]:
    instance = Instance()
    yield instance
    instance.server.shutdown()


def committed_app(tmp_path: Path, name: str, workload: str = "web") -> tuple[Path, str]:
    folder = app(tmp_path, name=name, workload=workload)
    git("init", "-q", "-b", "main", str(folder))
    git("add", "-A", cwd=folder)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "app", cwd=folder)
    return folder, git("rev-parse", "HEAD", cwd=folder)


def ci(instance: Instance, token: str) -> dict[str, str]:
    return {"CI": "true", "CI_SERVER_URL": instance.url, "APP_ID_TOKEN": token}


def test_verified_token_names_and_owns_the_app(tmp_path: Path, bare_repo: Path, gitlab: Instance) -> None:
    folder, sha = committed_app(tmp_path, "checkout-dir")
    token = gitlab.token("team-a/shop", sha)
    proc = publish(bare_repo, "--app", str(folder), "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, token))
    assert proc.returncode == 0, proc.stderr
    owners = json.loads(git("--git-dir", str(bare_repo), "show", "main:.render/owners.json"))
    assert owners["apps"] == {"shop": "team-a/shop"}  # named after the project, not the folder
    assert token not in repo_text(bare_repo) and token not in proc.stdout + proc.stderr


def test_token_signed_by_an_unknown_key_is_refused(tmp_path: Path, bare_repo: Path, gitlab: Instance) -> None:
    folder, sha = committed_app(tmp_path, "shop")
    forged = gitlab.token(
        "team-a/shop", sha, key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    proc = publish(bare_repo, "--app", str(folder), "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, forged))
    assert proc.returncode == EXIT_POLICY, proc.stderr
    assert "the ID token was refused: Signature verification failed" in proc.stderr
    assert repo_text(bare_repo) == ""


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"aud": "someone-else"}, "the ID token was refused: Audience doesn't match"),
        ({"exp": int(time.time()) - 60}, "the ID token was refused: Signature has expired"),
    ],
)
def test_token_for_another_audience_or_expired(
    tmp_path: Path, bare_repo: Path, gitlab: Instance, claims: dict[str, object], message: str
) -> None:
    folder, sha = committed_app(tmp_path, "shop")
    token = gitlab.token("team-a/shop", sha, **claims)
    proc = publish(bare_repo, "--app", str(folder), "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, token))
    assert proc.returncode == EXIT_POLICY, proc.stderr
    assert message in proc.stderr


def test_token_claiming_another_project_cannot_take_its_app(
    tmp_path: Path, bare_repo: Path, gitlab: Instance
) -> None:
    folder, sha = committed_app(tmp_path, "shop")
    first = publish(
        bare_repo,
        "--app",
        str(folder),
        "--id-token-var",
        "APP_ID_TOKEN",
        env=ci(gitlab, gitlab.token("team-a/shop", sha)),
    )
    assert first.returncode == 0, first.stderr
    head = git("--git-dir", str(bare_repo), "rev-parse", "main")
    other, other_sha = committed_app(tmp_path, "evil", workload="evil")
    token = gitlab.token("team-b/shop", other_sha)
    proc = publish(bare_repo, "--app", str(other), "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, token))
    assert proc.returncode == EXIT_POLICY, proc.stderr
    assert (
        "app 'shop' belongs to team-a/shop; team-b/shop (gitlab-id-token) may not change or remove it"
        in proc.stderr
    )
    proc = publish(bare_repo, "--remove-app", "shop", "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, token))
    assert proc.returncode == EXIT_POLICY, proc.stderr
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == head


def test_checkout_not_at_the_tokens_commit(tmp_path: Path, bare_repo: Path, gitlab: Instance) -> None:
    folder, _ = committed_app(tmp_path, "shop")
    token = gitlab.token("team-a/shop", "0" * 40)
    proc = publish(bare_repo, "--app", str(folder), "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, token))
    assert proc.returncode == EXIT_POLICY, proc.stderr
    assert "not at 000000000000, the commit the ID token of team-a/shop names" in proc.stderr


def test_in_ci_a_claimed_identity_is_refused(tmp_path: Path, bare_repo: Path) -> None:
    folder = app(tmp_path, name="shop")
    for args in ((), ("--app-id", "team-a/shop")):
        proc = publish(bare_repo, "--app", str(folder), *args, env={"CI": "true"})
        assert proc.returncode == EXIT_POLICY, proc.stderr
        assert "in CI a publish needs a verified GitLab ID token (--id-token-var NAME)" in proc.stderr
    assert repo_text(bare_repo) == ""
    assert CANARY not in repo_text(bare_repo)


def test_only_the_platform_publishes_every_app(tmp_path: Path, bare_repo: Path, gitlab: Instance) -> None:
    folder, sha = committed_app(tmp_path, "shop")
    token = gitlab.token("team-a/shop", sha)
    proc = publish(bare_repo, "--all-apps", "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, token))
    assert proc.returncode == EXIT_POLICY, proc.stderr
    assert "only the platform may publish every app; this run is team-a/shop" in proc.stderr
    platform = gitlab.token("platform/platform-config", "a" * 40)
    proc = publish(bare_repo, "--all-apps", "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, platform))
    assert proc.returncode == 0, proc.stderr


def test_identity_command_prints_what_the_token_proves(gitlab: Instance) -> None:
    from tests.conftest import run_renderer

    token = gitlab.token("team-a/shop; rm -rf /", "b" * 40)
    env = {"CI_SERVER_URL": gitlab.url, "APP_ID_TOKEN": token}
    proc = run_renderer("identity", "--id-token-var", "APP_ID_TOKEN", "--format", "shell", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"RENDERER_APP_PROJECT='team-a/shop; rm -rf /'; RENDERER_APP_SHA={'b' * 40}\n"


def test_no_job_of_the_app_template_holds_the_write_token() -> None:
    import yaml

    from tests.conftest import ROOT

    template = yaml.safe_load((ROOT / "ci/app-repo.gitlab-ci.yml").read_text())
    assert "stages" not in template  # an app's own stages stay its own
    jobs = {k: v for k, v in template.items() if isinstance(v, dict) and "script" in v}
    # renderer-preview and renderer-preview-stop extend .renderer-preview-trigger: its script is theirs
    assert sorted(jobs) == [
        ".renderer-preview-trigger",
        "renderer-diff",
        "renderer-publish",
        "renderer-validate",
    ]
    assert jobs[".renderer-preview-trigger"]["id_tokens"]["RENDERER_ID_TOKEN"]["aud"] == "$RENDERER_AUDIENCE"
    text = (ROOT / "ci/app-repo.gitlab-ci.yml").read_text()
    for credential in ("ENV_REPO_URL", "RENDERER_GIT_TOKEN", "RENDERER_GITLAB_TOKEN", "renderer publish"):
        assert credential not in text
    assert "variables[" not in text and "inputs[app_id_token]" in text  # the trigger passes no variable
    assert jobs["renderer-publish"]["id_tokens"]["RENDERER_ID_TOKEN"]["aud"] == "$RENDERER_AUDIENCE"
    header, platform = yaml.safe_load_all((ROOT / ".gitlab-ci.yml").read_text())
    assert header["spec"]["inputs"]["app_id_token"]["regex"] == "^[A-Za-z0-9_.-]*$"  # a JWT, nothing else
    assert "--id-token-var RENDERER_APP_ID_TOKEN" in platform[".render-app"]["script"][-1]
    assert "--id-token-var RENDERER_ID_TOKEN" in platform[".publish"]["script"][-1]


def test_a_name_the_platform_declares_for_a_project(
    tmp_path: Path, bare_repo: Path, gitlab: Instance
) -> None:
    folder, sha = committed_app(tmp_path, "checkout")
    token = gitlab.token("platform/examples/shop-service", sha)  # trust.yaml: names it "shop"
    proc = publish(bare_repo, "--app", str(folder), "--id-token-var", "APP_ID_TOKEN", env=ci(gitlab, token))
    assert proc.returncode == 0, proc.stderr
    owners = json.loads(git("--git-dir", str(bare_repo), "show", "main:.render/owners.json"))
    assert owners["apps"] == {"shop": "platform/examples/shop-service"}
