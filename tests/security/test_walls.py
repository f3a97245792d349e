"""The holes a hostile app developer could use, each reproduced and refused.

Every case runs the renderer as CI would, as a process, with a canary credential in its
environment, and checks that the refusal is clear (file, YAML path, exit code), that nothing was
committed, and that the canary's value appears nowhere: not in the output, not in the repo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from renderer.errors import EXIT_INVALID, EXIT_POLICY, EXIT_USAGE
from tests.conftest import ROOT, git, run_renderer, write

CANARY = "canary-0f9e8d7c6b5a4f3e2d1c"
ENV = {"RENDERER_CANARY_TOKEN": CANARY, "RENDERER_JOBS": "1"}

SCORE = """apiVersion: score.dev/v1b1
metadata:
  name: {name}
containers:
  main:
    image: ghcr.io/example/{name}:1.0.0
{extra}"""


def app(tmp_path: Path, name: str = "victim", extra: str = "", workload: str = "web") -> Path:
    folder = tmp_path / "apps" / name
    shutil.rmtree(folder, ignore_errors=True)
    write(folder / "score.yaml", SCORE.format(name=workload, extra=extra))
    return folder


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = run_renderer("--help") if not args else run_renderer(*args, env={**ENV, **(env or {})})
    assert CANARY not in proc.stdout + proc.stderr, "the canary reached the output"
    return proc


def publish(bare: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run("publish", "--root", str(ROOT), "--env-repo", str(bare), "--env", "dev", *args, env=env)


def repo_text(bare: Path) -> str:
    if not git("--git-dir", str(bare), "for-each-ref"):
        return ""
    return git("--git-dir", str(bare), "log", "-p", "--all", "--format=%B")


def assert_refused(proc: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert proc.returncode == code, proc.stdout + proc.stderr
    for fragment in fragments:
        assert fragment in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


# ---- reading the CI machine's files ------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "render", "explain"])
def test_file_source_naming_the_process_environment(tmp_path: Path, command: str) -> None:
    victim = app(tmp_path, extra="    files:\n      /etc/env:\n        source: /proc/self/environ\n")
    args = {
        "validate": ("validate", "--root", str(ROOT), str(victim)),
        "render": ("render", "--root", str(ROOT), "--app", str(victim), "--out", str(tmp_path / "out")),
        "explain": (
            "explain",
            "--root",
            str(ROOT),
            "--app",
            str(victim),
            "--workload",
            "web",
            "--env",
            "dev",
        ),
    }[command]
    proc = run(*args)
    assert_refused(
        proc,
        EXIT_INVALID,
        'score.yaml:9 at containers.main.files["/etc/env"].source: '
        "file source '/proc/self/environ' is absolute",
    )
    assert not (tmp_path / "out").exists()


def test_file_source_climbing_out(tmp_path: Path, bare_repo: Path) -> None:
    write(tmp_path / "apps" / "other" / "secret.txt", "other team's file\n")
    victim = app(tmp_path, extra="    files:\n      /etc/x:\n        source: ../other/secret.txt\n")
    proc = publish(bare_repo, "--app", str(victim))
    assert_refused(proc, EXIT_INVALID, "file source '../other/secret.txt' climbs out of its folder with '..'")
    assert repo_text(bare_repo) == ""


def test_override_adding_a_source_outside_is_refused_after_merging(tmp_path: Path, bare_repo: Path) -> None:
    victim = app(tmp_path)
    write(
        victim / "overrides/dev/web.yaml",
        "containers:\n  main:\n    files:\n      /etc/env:\n        source: /proc/self/environ\n",
    )
    proc = publish(bare_repo, "--app", str(victim))
    assert_refused(proc, EXIT_INVALID, "overrides/dev/web.yaml", "'/proc/self/environ' is absolute")
    assert repo_text(bare_repo) == ""


@pytest.mark.parametrize(
    ("link", "target", "message"),
    [
        ("score.yaml", "/etc/hostname", "score.yaml: a Score file must be a regular file"),
        ("conf.txt", "/proc/self/environ", "'conf.txt' is or passes through a symbolic link"),
        ("overrides", "/etc", "overrides: must be a folder"),
        ("overrides/dev/web.yaml", "/etc/hostname", "overrides/dev/web.yaml: is a symbolic link"),
    ],
)
def test_symbolic_links_are_not_followed(
    tmp_path: Path, bare_repo: Path, link: str, target: str, message: str
) -> None:
    victim = app(tmp_path, extra="    files:\n      /etc/conf:\n        source: conf.txt\n")
    write(victim / "conf.txt", "x=1\n")
    (victim / "overrides/dev").mkdir(parents=True)
    path = victim / link
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    path.symlink_to(target)
    if link == "score.yaml":
        write(victim / "score-real.yaml", SCORE.format(name="real", extra=""))
    proc = publish(bare_repo, "--app", str(victim))
    assert_refused(proc, EXIT_INVALID, message)
    assert repo_text(bare_repo) == ""


def test_stored_inputs_that_became_links_are_not_followed(tmp_path: Path, bare_repo: Path) -> None:
    """The environment repo's copy of an app's inputs is as untrusted as the app repo."""
    victim = app(tmp_path, extra="    files:\n      /etc/conf:\n        source: conf.txt\n")
    write(victim / "conf.txt", "x=1\n")
    assert publish(bare_repo, "--app", str(victim)).returncode == 0
    checkout = tmp_path / "checkout"
    git("clone", "-q", str(bare_repo), str(checkout))
    stored = checkout / ".render/apps/victim/conf.txt"
    stored.unlink()
    stored.symlink_to("/proc/self/environ")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "link", cwd=checkout)
    git("push", "-q", "origin", "main", cwd=checkout)
    other = app(tmp_path, name="bystander")
    proc = publish(bare_repo, "--app", str(other), "--all-apps")
    assert proc.returncode == 0, proc.stderr
    assert "SKIPPED app 'victim'" in proc.stdout + proc.stderr
    assert "is or passes through a symbolic link" in proc.stdout + proc.stderr
    assert CANARY not in repo_text(bare_repo)


# ---- reading what belongs to the platform or to other apps -------------------------------------


def test_platform_only_resource_is_refused(tmp_path: Path) -> None:
    victim = app(tmp_path, extra="resources:\n  db:\n    type: postgres-instance\n")
    proc = run("validate", "--root", str(ROOT), str(victim))
    assert_refused(
        proc,
        EXIT_INVALID,
        "at resources.db: not allowed: 'postgres-instance-in-cluster' is for the platform's own "
        "definitions (through uses:), not for apps",
    )


def test_another_apps_shared_resource_is_refused(tmp_path: Path, bare_repo: Path) -> None:
    shared = "resources:\n  bus:\n    type: kafka-topic\n    id: orders\n"
    owner = app(tmp_path, name="orders", extra=shared)
    assert publish(bare_repo, "--app", str(owner)).returncode == 0
    thief = app(
        tmp_path,
        name="aaa-thief",
        extra=shared.replace("id: orders", "id: orders\n    params: {partitions: 1}"),
    )
    proc = publish(bare_repo, "--app", str(thief))
    assert_refused(proc, EXIT_INVALID, "shared resource kafka-topic.default#orders belongs to app 'orders'")
    assert "aaa-thief" not in git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main")


# ---- taking over or deleting another app -------------------------------------------------------


def test_publish_and_remove_by_another_owner_are_refused(tmp_path: Path, bare_repo: Path) -> None:
    billing = app(tmp_path, name="billing")
    assert publish(bare_repo, "--app", str(billing), "--app-id", "team-a/billing").returncode == 0
    head = git("--git-dir", str(bare_repo), "rev-parse", "main")
    impostor = app(tmp_path, name="billing", workload="evil")
    proc = publish(bare_repo, "--app", str(impostor), "--app-id", "team-b/billing")
    assert_refused(proc, EXIT_POLICY, "app 'billing' belongs to team-a/billing; team-b/billing (app-id)")
    proc = publish(bare_repo, "--remove-app", "billing", "--app-id", "team-b/billing")
    assert_refused(proc, EXIT_POLICY, "app 'billing' belongs to team-a/billing")
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == head
    # the very same inputs: refused too, not "up to date" (the unchanged-inputs shortcut comes after)
    same = app(tmp_path, name="billing")  # byte for byte what team-a published
    proc = publish(bare_repo, "--app", str(same), "--app-id", "team-b/billing")
    assert_refused(proc, EXIT_POLICY, "app 'billing' belongs to team-a/billing")
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == head


def test_leftovers_of_a_removed_app_are_nobody_elses_to_remove(tmp_path: Path, bare_repo: Path) -> None:
    """Removed from dev alone, an app leaves its prod files on main with no inputs and no owner
    record. Another team may not remove them (without a record anyone would pass the owner check);
    the platform may."""
    billing = app(tmp_path, name="billing")

    def pub(*args: str, owner: str) -> subprocess.CompletedProcess[str]:
        return run("publish", "--root", str(ROOT), "--env-repo", str(bare_repo), *args, "--app-id", owner)

    both = ("--env", "dev", "--env", "prod")
    assert pub("--app", str(billing), *both, owner="team-a/billing").returncode == 0
    git("--git-dir", str(bare_repo), "update-ref", "refs/heads/main", "render/prod/billing")  # merged
    removed = pub("--remove-app", "billing", "--env", "dev", "--allow-mass-delete", owner="team-a/billing")
    assert removed.returncode == 0, removed.stderr
    proc = pub("--remove-app", "billing", "--env", "prod", "--allow-mass-delete", owner="team-b/other")
    assert_refused(proc, EXIT_USAGE, "cannot remove app 'billing': the environment repo holds no such app")
    platform = pub(
        "--remove-app", "billing", "--env", "prod", "--allow-mass-delete", owner="platform/platform-config"
    )
    assert platform.returncode == 0, platform.stderr
    left = git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "render/prod/billing")
    assert "kubernetes/prod/billing/" not in left


@pytest.mark.parametrize(
    "name", ["billing/web", "billing/web/deployment-web.yaml", "_shared", "modules", "../x"]
)
def test_only_an_app_name_can_be_removed(tmp_path: Path, bare_repo: Path, name: str) -> None:
    """A removed name becomes a folder the publish owns: a path inside another app (one file of it,
    its Terraform project) or a platform folder would be deleted, whoever asks."""
    billing = app(tmp_path, name="billing")
    assert publish(bare_repo, "--app", str(billing), "--app-id", "team-a/billing").returncode == 0
    head = git("--git-dir", str(bare_repo), "rev-parse", "main")
    for owner in ("team-b/other", "platform/platform-config"):
        proc = publish(bare_repo, "--remove-app", name, "--app-id", owner)
        assert_refused(proc, EXIT_USAGE, f"cannot remove app {name!r}: not an app name")
    assert git("--git-dir", str(bare_repo), "rev-parse", "main") == head


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("kube-system", "is reserved for the platform"),
        ("external-secrets", "is reserved for the platform"),
        ("all-apps", "is reserved for the platform"),  # the branch of every --all-apps publish
        ("modules", "is reserved for the platform"),  # terraform/<env>/modules/
        ("a" * 41, "is longer than 40 characters"),
        ("Billing", "is not a DNS label"),
    ],
)
def test_reserved_and_bad_names_are_refused(tmp_path: Path, name: str, why: str) -> None:
    proc = run("validate", "--root", str(ROOT), str(app(tmp_path, name=name)))
    assert_refused(proc, EXIT_INVALID, f"app name '{name}' {why}")


def test_two_apps_routing_one_host_and_path(tmp_path: Path, bare_repo: Path) -> None:
    route = (
        "service:\n  ports:\n    http: {{port: 80}}\nresources:\n  route:\n    type: route\n"
        "    params: {{host: {host}, path: /, port: 80}}\n"
    )
    first = app(tmp_path, name="first", extra=route.format(host="shop.example.com"))
    second = app(tmp_path, name="second", extra=route.format(host="shop.example.com"))
    proc = run("validate", "--root", str(ROOT), str(first), str(second))
    assert_refused(proc, EXIT_POLICY, "is also routed by app 'first'", "app 'second' cannot take it")


# ---- switching off the platform's guarantees ---------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "kustomize.toolkit.fluxcd.io/reconcile",
        "container.apparmor.security.beta.kubernetes.io/main",
        "renderer.platform/source",
        "argocd.argoproj.io/sync-options",
        "nginx.ingress.kubernetes.io/server-snippet",
    ],
)
def test_controller_and_renderer_annotations_are_refused(tmp_path: Path, key: str) -> None:
    victim = app(tmp_path)
    text = (
        (victim / "score.yaml")
        .read_text()
        .replace("  name: web\n", f"  name: web\n  annotations:\n    {key}: disabled\n")
    )
    (victim / "score.yaml").write_text(text)
    proc = run("validate", "--root", str(ROOT), str(victim))
    assert_refused(proc, EXIT_INVALID, f"annotation '{key}' belongs to the renderer or to the controllers")


def test_profile_class_not_offered_in_production(tmp_path: Path, project: Path) -> None:
    trust = project / "platform-config/trust.yaml"
    trust.write_text(trust.read_text().replace("production: [default, stateful]", "production: [default]"))
    victim = app(tmp_path)
    text = (
        (victim / "score.yaml")
        .read_text()
        .replace("  name: web\n", "  name: web\n  annotations:\n    renderer.platform/profile: stateful\n")
    )
    (victim / "score.yaml").write_text(text)
    proc = run("validate", "--root", str(project), str(victim))
    assert_refused(
        proc, EXIT_INVALID, "profile class 'stateful' is not offered to apps in production environments"
    )


# ---- committing secrets unseen -----------------------------------------------------------------

AWS_KEY = "AKIA" + "IOSFODNN7QWERTYU"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("extra", "path", "kind"),
    [
        (f"    command: [run, --key, {AWS_KEY}]\n", "containers.main.command[2]", "AWS Access Key"),
        (
            "    variables:\n      DB_PWD: hunter2\n",
            "containers.main.variables.DB_PWD",
            "a literal value in a field named for a secret",
        ),
        (
            "    variables:\n      DATABASE_URL: postgres://app:s3cr3t-pass@db:5432/app\n",
            "containers.main.variables.DATABASE_URL",
            "Basic Auth Credentials",
        ),
        (
            f"    variables:\n      PAYMENTS: {STRIPE}\n",
            "containers.main.variables.PAYMENTS",
            "Stripe Access Key",
        ),
        (f"    args: [{SLACK}]\n", "containers.main.args[0]", "Slack Token"),
        (
            "    files:\n      /etc/key.pem:\n        binaryContent: "
            + __import__("base64").b64encode(PEM.encode()).decode()
            + "\n",
            'containers.main.files["/etc/key.pem"].binaryContent',
            "Private Key",
        ),
    ],
)
def test_secrets_from_app_inputs_block_the_commit(
    tmp_path: Path, bare_repo: Path, extra: str, path: str, kind: str
) -> None:
    victim = app(tmp_path, extra=extra)
    proc = publish(bare_repo, "--app", str(victim))
    assert_refused(proc, EXIT_POLICY, f"at {path}: looks like a secret ({kind})")
    for value in (AWS_KEY, "hunter2", "s3cr3t-pass", STRIPE, SLACK, "MIIEowIBAAKCAQEA"):
        assert value not in proc.stdout + proc.stderr, "a finding printed the secret it found"
    assert repo_text(bare_repo) == ""


def test_secret_in_an_annotation(tmp_path: Path) -> None:
    victim = app(tmp_path)
    text = (
        (victim / "score.yaml")
        .read_text()
        .replace("  name: web\n", f"  name: web\n  annotations:\n    example.com/key: {AWS_KEY}\n")
    )
    (victim / "score.yaml").write_text(text)
    proc = run("validate", "--root", str(ROOT), str(victim))
    assert_refused(proc, EXIT_POLICY, 'at metadata.annotations["example.com/key"]: looks like a secret')


def test_the_renderers_own_credentials_never_reach_the_tree(tmp_path: Path) -> None:
    """Defence in depth: even a value an input copies verbatim is caught by its value."""
    victim = app(tmp_path, extra=f"    variables:\n      HARMLESS: prefix-{CANARY}\n")
    proc = run_renderer(
        "render", "--root", str(ROOT), "--app", str(victim), "--out", str(tmp_path / "out"), env=ENV
    )
    assert proc.returncode == EXIT_POLICY, proc.stderr
    assert "holds the value of one of the renderer's own secret environment variables" in proc.stderr
    assert CANARY not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_allow_list_accepts_a_reviewed_finding(tmp_path: Path, project: Path) -> None:
    trust = project / "platform-config/trust.yaml"
    trust.write_text(
        trust.read_text().replace(
            "  allow: []",
            "  allow:\n    - app: victim\n      file: score.yaml\n"
            "      path: containers.main.variables.DB_PWD\n"
            "      reason: a throwaway password for the local test database",
        )
    )
    victim = app(tmp_path, extra="    variables:\n      DB_PWD: hunter2\n")
    proc = run("validate", "--root", str(project), str(victim))
    assert proc.returncode == 0, proc.stderr


def test_examples_have_no_secret_findings() -> None:
    proc = run("validate", "--root", str(ROOT))
    assert proc.returncode == 0, proc.stderr


def test_canary_is_nowhere_after_a_publish(tmp_path: Path, bare_repo: Path) -> None:
    victim = app(tmp_path)
    assert publish(bare_repo, "--app", str(victim)).returncode == 0
    assert CANARY not in repo_text(bare_repo)
    assert os.environ.get("RENDERER_CANARY_TOKEN") is None  # the canary lived in the child only


def test_a_collision_names_both_owners_when_known() -> None:
    from renderer.checks.collisions import ingress_collisions

    def ingress(app: str) -> tuple[str, dict[str, object]]:
        rules = [{"host": "shop.example.com", "http": {"paths": [{"path": "/"}]}}]
        return f"kubernetes/dev/{app}/web/ingress-web.yaml", {"kind": "Ingress", "spec": {"rules": rules}}

    (problem,) = ingress_collisions([ingress("first"), ingress("second")], {"first": "team-a/first"})
    assert problem.render() == (
        "kubernetes/dev/second/web/ingress-web.yaml at spec.rules: host shop.example.com path / is also "
        "routed by app 'first' (owner team-a/first) (kubernetes/dev/first/web/ingress-web.yaml); "
        "app 'second' cannot take it (choose another host or path)"
    )


def test_only_credential_variables_count_as_sensitive() -> None:
    from renderer.checks.secrets import sensitive_values

    environ = {
        "AWS_REGION": "eu-central-1",  # in every Terraform project: not a secret
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIK7MDENG",
        "CI_JOB_TOKEN": "glcbt-64_abcdefgh",
        "RENDERER_GIT_TOKEN": "short",  # too short to look for
        "HOME": "/root/somewhere",
    }
    assert sensitive_values(environ) == ("glcbt-64_abcdefgh", "wJalrXUtnFEMIK7MDENG")


@pytest.mark.parametrize("order", ["victim first", "thief first"])
def test_a_shared_id_cannot_spell_another_apps_private_resource(tmp_path: Path, order: str) -> None:
    """`id: victim.web.db` would otherwise be the victim's own private database, password and all."""
    private = "    variables:\n      DB: ${resources.db.host}\nresources:\n  db:\n    type: postgres\n"
    victim = app(tmp_path, name="victim", extra=private)
    thief = app(
        tmp_path,
        name="aaa-thief" if order == "thief first" else "zzz-thief",
        extra=private + "    id: victim.web.db\n",
    )
    proc = run("validate", "--root", str(ROOT), str(victim), str(thief))
    assert_refused(
        proc,
        EXIT_INVALID,
        "at resources.db.id: id 'victim.web.db' names a private resource of victim/web: no other workload "
        "may use it",
    )
    assert "apps/victim/score.yaml" not in proc.stderr  # the victim is not blamed


def test_a_secret_put_together_by_placeholders_is_caught_in_the_rendered_object(tmp_path: Path) -> None:
    victim = app(tmp_path, extra='    variables:\n      AWS_ID: "AKIA${metadata.annotations.rest}"\n')
    text = (
        (victim / "score.yaml")
        .read_text()
        .replace("  name: web\n", f"  name: web\n  annotations:\n    rest: {AWS_KEY[4:]}\n")
    )
    (victim / "score.yaml").write_text(text)
    proc = run(
        "render", "--root", str(ROOT), "--app", str(victim), "--env", "dev", "--out", str(tmp_path / "o")
    )
    assert_refused(
        proc,
        EXIT_POLICY,
        "kubernetes/dev/victim/web/deployment-web.yaml:",  # the line of the value in the rendered file
        " at spec.template.spec.containers[0].env[0].value: looks like a secret (AWS Access Key)",
    )
    assert AWS_KEY not in proc.stdout + proc.stderr
    assert not (tmp_path / "o").exists()


def test_secrets_in_comments_and_other_environments_overrides_never_reach_the_store(
    tmp_path: Path, bare_repo: Path
) -> None:
    """Everything an app brings is stored in the environment repo: all of it is scanned as text."""
    victim = app(tmp_path)
    (victim / "score.yaml").write_text(
        f"# aws_access_key_id = {AWS_KEY}\n" + (victim / "score.yaml").read_text()
    )
    write(victim / "overrides/prod/web.yaml", f"containers:\n  main:\n    variables:\n      PAY: {STRIPE}\n")
    proc = publish(bare_repo, "--app", str(victim))  # dev only: prod's override is not rendered
    assert_refused(
        proc,
        EXIT_POLICY,
        "victim/score.yaml:1: looks like a secret (AWS Access Key)",
        "victim/overrides/prod/web.yaml:4: looks like a secret (Stripe Access Key)",
    )
    assert repo_text(bare_repo) == ""
