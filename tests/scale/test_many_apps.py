"""250 apps at once, as a platform team publishes them: a direct environment and a protected one."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, git, run_renderer, write
from tests.fake_gitlab import TOKEN, FakeGitLab
from tests.generated import SCORE

APPS = 250
BUCKET = "resources:\n  files:\n    type: s3\n"


def generate(base: Path, n: int) -> list[str]:
    """`n` apps of one workload each; every 50th owns a Terraform project (an S3 bucket)."""
    folders = []
    for i in range(n):
        app = f"team-{i:04d}"
        write(base / app / "score.yaml", SCORE.format(app=app) + (BUCKET if i % 50 == 0 else ""))
        folders.append(str(base / app))
    return folders


def branches(bare: Path) -> list[str]:
    return git("--git-dir", str(bare), "for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines()


def test_publish_of_250_apps_into_a_fresh_repo(tmp_path: Path, bare_repo: Path) -> None:
    folders = generate(tmp_path / "apps", APPS)
    argv = [a for f in folders for a in ("--app", f)]
    with FakeGitLab() as gl:
        env = {
            "RENDERER_GITLAB_URL": gl.url,
            "RENDERER_GITLAB_TOKEN": TOKEN,
            "RENDERER_ENV_REPO_PROJECT": "platform/env",
        }
        args = (
            "publish",
            "--root",
            str(ROOT),
            "--env-repo",
            str(bare_repo),
            "--env",
            "dev",
            "--env",
            "prod",
            *argv,
        )
        result = run_renderer(*args, env=env, timeout=1800)  # minutes on a loaded 2-core machine
        assert result.returncode == 0, result.stderr[-3000:]
        mrs = {mr["source_branch"]: mr for mr in gl.mrs}
    [atlantis, render] = [b for b in branches(bare_repo) if b != "main"]  # sorted
    scope = render.rsplit("/", 1)[1]
    assert render == f"render/prod/{scope}" and atlantis == f"atlantis/dev/{scope}"
    assert scope.startswith("apps.") and len(scope) == 17
    title = mrs[render]["title"]
    assert title == f"render(prod): {APPS} apps ({scope}) (source commit: unknown)"
    assert f"Apps ({APPS}, {scope}):" in mrs[render]["description"]
    assert "team-0000, team-0001," in mrs[render]["description"] and "team-0249" in mrs[render]["description"]
    assert "Source-Commit: unknown" in mrs[render]["description"]
    assert mrs[atlantis]["title"].startswith(f"terraform(dev): {APPS} apps ({scope})")
    message = git("--git-dir", str(bare_repo), "log", "-1", "--format=%B", "main")
    subject, _, body = message.partition("\n")
    assert subject == f"render(dev): {APPS} apps ({scope}) (source commit: unknown)"
    assert "team-0249" in body and "0000000" not in message
    files = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main").splitlines()
    assert (
        sum(p.endswith("/web/deployment-web.yaml") for p in files) == APPS
    )  # dev (a direct environment; staging is the same path)
    on_prod = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", render).splitlines()
    prod = [p for p in on_prod if p.startswith("kubernetes/prod/") and p.endswith("/deployment-web.yaml")]
    assert len(prod) == APPS
