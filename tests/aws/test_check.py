"""`renderer check` against moto's server on loopback: what is missing, and AWS's faults."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.aws.conftest import ECR, PROD_ACCOUNT, prod_session, seed_bucket, seed_image, seed_secret
from tests.aws.proxy import FaultProxy
from tests.conftest import ROOT

Cli = Callable[..., Result]
DESCRIBE_SECRET = "secretsmanager.DescribeSecret"
DESCRIBE_IMAGES = "AmazonEC2ContainerRegistry_V20150921.DescribeImages"
SHOP_SECRETS = (
    "platform/prod/shop/api/cache",
    "platform/prod/shop/api/db",
    "platform/prod/shop/worker/cache",
)


def seed_all_but_invoicer(url: str) -> dict[str, str]:
    """Everything prod's examples reference, except the invoicer's bucket secret and image."""
    session = prod_session(url)
    for name in (*SHOP_SECRETS, "platform/prod/billing/ledger/reports"):
        seed_secret(session, url, name, '{"host": "h", "password": "never-shown-7f3a"}')
    seed_bucket(session, url, "example-tfstate-prod")
    return {
        f"{ECR}/shop/api:1.14.2": seed_image(session, url, "shop/api", "1.14.2", "a"),
        f"{ECR}/shop/worker:1.14.2": seed_image(session, url, "shop/worker", "1.14.2", "b"),
        f"{ECR}/billing/ledger:0.9.1": seed_image(session, url, "billing/ledger", "0.9.1", "c"),
    }


def check(cli: Cli, *args: str) -> Result:
    return cli("check", "--env", "prod", "--root", str(ROOT), *args)


def test_check_reports_exactly_the_missing(aws: FaultProxy, moto_url: str, cli: Cli) -> None:
    digests = seed_all_but_invoicer(moto_url)
    result = check(cli, "--format", "json")
    assert result.exit_code == 4, result.output
    report = json.loads(result.output)
    assert report["ok"] is False
    assert report["apps"]["shop"]["ok"] is True and report["apps"]["_shared"]["ok"] is True
    missing = {(m["kind"], m["name"], m["status"]) for m in report["apps"]["billing"]["missing"]}
    assert missing == {
        ("secret", "platform/prod/billing/invoicer/invoices", "missing"),
        ("image", f"{ECR}/billing/invoicer:3.0.0", "missing"),
    }
    unchecked = {m["name"] for m in report["apps"]["shop"]["unchecked"]}
    assert unchecked == {
        "ghcr.io/example/edge-proxy:1.2.0",
        "ghcr.io/example/shop-web:2.3.0",
        "registry.example.com/mirror/library/rabbitmq:3.13.7-management-alpine",
    }
    assert report["digests"] == digests
    assert "never-shown-7f3a" not in result.output
    assert not [c for c in aws.calls if "GetSecretValue" in c or "ListSecretVersionIds" in c]


def test_check_text_names_each_missing_reference_per_app(aws: FaultProxy, moto_url: str, cli: Cli) -> None:
    seed_all_but_invoicer(moto_url)
    result = check(cli, "--app", str(ROOT / "examples/apps/billing"))
    assert result.exit_code == 4
    assert "prod/billing: 2 missing" in result.output
    assert "missing secret platform/prod/billing/invoicer/invoices: no such secret in Secrets Manager" in (
        result.output
    )
    assert f"missing image {ECR}/billing/invoicer:3.0.0: no such repository or tag in ECR" in result.output
    assert "prod/shop" not in result.output  # only the app asked for (and the shared scope)
    assert "2 required reference(s) missing in AWS" in result.output


def test_check_passes_when_everything_exists(aws: FaultProxy, moto_url: str, cli: Cli) -> None:
    seed_all_but_invoicer(moto_url)
    session = prod_session(moto_url)
    seed_secret(session, moto_url, "platform/prod/billing/invoicer/invoices")
    seed_image(session, moto_url, "billing/invoicer", "3.0.0", "d")
    result = check(cli)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("everything referenced exists")


def test_a_secret_without_a_value_deleted_or_lacking_a_key_is_missing(
    aws: FaultProxy, moto_url: str, cli: Cli
) -> None:
    session = prod_session(moto_url)
    seed_secret(session, moto_url, SHOP_SECRETS[0], None)  # created, no value yet
    seed_secret(
        session, moto_url, SHOP_SECRETS[1], "{}", Tags=[{"Key": "platform-renderer/keys", "Value": "host"}]
    )
    seed_secret(session, moto_url, SHOP_SECRETS[2])
    session.client("secretsmanager", endpoint_url=moto_url).delete_secret(SecretId=SHOP_SECRETS[2])
    result = check(cli, "--app", str(ROOT / "examples/apps/shop"), "--format", "json")
    assert result.exit_code == 4
    statuses = {
        m["name"]: (m["status"], m["detail"]) for m in json.loads(result.output)["apps"]["shop"]["missing"]
    }
    assert statuses[SHOP_SECRETS[0]] == (
        "no-current-version",
        "the secret has no AWSCURRENT version (no value set yet)",
    )
    assert statuses[SHOP_SECRETS[1]] == ("missing-key", "keys not in the secret: password")
    assert statuses[SHOP_SECRETS[2]] == ("deleted", "the secret is scheduled for deletion")


def test_throttling_is_retried_by_botocore(aws: FaultProxy, moto_url: str, cli: Cli) -> None:
    seed_all_but_invoicer(moto_url)
    throttle = aws.fail(DESCRIBE_SECRET, "ThrottlingException", times=2)
    result = check(cli, "--app", str(ROOT / "examples/apps/shop"))
    assert result.exit_code == 0, result.output
    assert throttle.hits == 2
    assert aws.calls.count(DESCRIBE_SECRET) == len(SHOP_SECRETS) + 2


def test_throttling_past_the_retries_fails_naming_the_call(aws: FaultProxy, moto_url: str, cli: Cli) -> None:
    seed_all_but_invoicer(moto_url)
    aws.fail(DESCRIBE_IMAGES, "ThrottlingException")
    result = check(cli, "--app", str(ROOT / "examples/apps/shop"))
    assert result.exit_code == 5
    assert (
        f"AWS ecr:DescribeImages on {ECR}/shop/api:1.14.2 (account {PROD_ACCOUNT}, region eu-central-1, "
        "as arn:aws:iam::333333333333:role/platform-renderer-check-prod): throttled (ThrottlingException) "
        "after 5 attempts; run again later"
    ) in result.output
    assert aws.calls.count(DESCRIBE_IMAGES) == 5
    assert "Traceback" not in result.output


def test_access_denied_is_reported_once_and_stops(aws: FaultProxy, moto_url: str, cli: Cli) -> None:
    seed_all_but_invoicer(moto_url)
    aws.fail(DESCRIBE_SECRET, "AccessDeniedException")
    result = check(cli)
    assert result.exit_code == 5
    assert result.output.count("access denied") == 1
    assert (
        "AWS secretsmanager:DescribeSecret on platform/prod/billing/invoicer/invoices "
        "(account 333333333333, region eu-central-1, "
        "as arn:aws:iam::333333333333:role/platform-renderer-check-prod): access denied; "
        "the check role needs secretsmanager:DescribeSecret on it"
    ) in result.output
    assert aws.calls.count(DESCRIBE_SECRET) == 1  # never retried, nothing else asked


def test_a_denied_state_bucket_names_it(aws: FaultProxy, moto_url: str, cli: Cli) -> None:
    seed_all_but_invoicer(moto_url)
    aws.fail("HEAD /example-tfstate-prod", "403")
    result = check(cli, "--app", str(ROOT / "examples/apps/shop"))
    assert result.exit_code == 5
    assert "AWS s3:HeadBucket on example-tfstate-prod (account 333333333333" in result.output
    assert "access denied" in result.output


def test_a_missing_state_bucket_is_missing(aws: FaultProxy, moto_url: str, cli: Cli) -> None:
    result = check(cli, "--app", str(ROOT / "examples/apps/shop"), "--format", "json")
    assert result.exit_code == 4
    shared = json.loads(result.output)["apps"]["_shared"]["missing"]
    assert shared == [
        {
            "kind": "bucket",
            "name": "example-tfstate-prod",
            "status": "missing",
            "detail": "Terraform backend (S3)",
        }
    ]


def test_a_check_role_in_another_account_is_refused(aws: FaultProxy, project: Path, cli: Cli) -> None:
    env = project / "environments/prod.yaml"
    env.write_text(
        env.read_text().replace("iam::333333333333:role/platform-renderer-check", "iam::444444444444:role/x")
    )
    result = cli("check", "--env", "prod", "--root", str(project))
    assert result.exit_code == 5
    assert (
        "the check role arn:aws:iam::444444444444:role/x-prod is in account 444444444444, "
        "but environment prod is account 333333333333: fix aws.check_role"
    ) in result.output


def test_an_environment_without_a_check_role_is_invalid_input(project: Path, cli: Cli) -> None:
    env = project / "environments/prod.yaml"
    env.write_text("".join(line for line in env.read_text().splitlines(True) if "check_role" not in line))
    result = cli("check", "--env", "prod", "--root", str(project))
    assert result.exit_code == 3
    assert "environments/prod.yaml:" in result.output
    assert (
        "environments/prod.yaml:12 at aws.check_role: environment prod names no read-only role"
        in result.output
    )


def test_unreachable_aws_is_a_clear_error(project: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    result = cli("check", "--env", "prod", "--root", str(project))
    assert result.exit_code == 5
    assert (
        "AWS sts:AssumeRole on arn:aws:iam::333333333333:role/platform-renderer-check-prod" in result.output
    )
    assert "EndpointConnectionError" in result.output


def test_only_check_imports_boto3() -> None:
    code = (
        "import sys; from renderer.cli import render, diff, check; from renderer.review import awscheck; "
        "print('boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
