"""moto's server on loopback, started once per session, with a fault proxy in front; boto3 talks to it
over HTTP as it would to AWS, through the standard credential chain (`AWS_*` variables)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from renderer import pipeline
from renderer.inputs import roots
from renderer.review import awscheck
from tests.aws.proxy import FaultProxy
from tests.conftest import ROOT

PROD_ACCOUNT = "333333333333"
PROD_REGION = "eu-central-1"
PROD_CHECK_ROLE = f"arn:aws:iam::{PROD_ACCOUNT}:role/platform-renderer-check-prod"
ECR = f"{PROD_ACCOUNT}.dkr.ecr.{PROD_REGION}.amazonaws.com"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fault_proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as proxy:
        yield proxy


@pytest.fixture
def aws(moto_url: str, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The standard chain pointed at the proxy (in front of a fresh moto); no faults yet."""
    _reset(moto_url)
    fault_proxy.reset()
    for key, value in {
        "AWS_ENDPOINT_URL": fault_proxy.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(key, raising=False)
    yield fault_proxy


def _reset(moto_url: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10)


def prod_session(moto_url: str) -> boto3.Session:
    """A session in the production account, as the platform (not the renderer) would seed it."""
    return account_session(moto_url, PROD_ACCOUNT, PROD_REGION)


def account_session(moto_url: str, account: str, region: str) -> boto3.Session:
    """A session in `account`, as the platform (not the renderer) would seed it."""
    sts = boto3.client(
        "sts",
        endpoint_url=moto_url,
        region_name=region,
        aws_access_key_id="seed",
        aws_secret_access_key="seed",
    )
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/seed", RoleSessionName="seed")
    c = creds["Credentials"]
    return boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name=region,
    )


def seed_secret(session: boto3.Session, url: str, name: str, value: str | None = "{}", **kw: object) -> None:
    client = session.client("secretsmanager", endpoint_url=url)
    if value is None:
        client.create_secret(Name=name, **kw)
    else:
        client.create_secret(Name=name, SecretString=value, **kw)


def seed_image(session: boto3.Session, url: str, repository: str, tag: str, layer: str = "a") -> str:
    """Push a manifest under `tag`; returns the digest ECR gives it."""
    client = session.client("ecr", endpoint_url=url)
    with contextlib.suppress(client.exceptions.RepositoryAlreadyExistsException):
        client.create_repository(repositoryName=repository)
    digest = "sha256:" + layer * 64
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7,
            "digest": digest,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1,
                "digest": digest,
            }
        ],
    }
    answer = client.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    return str(answer["image"]["imageId"]["imageDigest"])


def seed_app_secrets(session: boto3.Session, url: str, app: str, env: str) -> list[str]:
    """Every Secrets Manager secret the app's output in `env` reads (what its Terraform has written)."""
    inputs = roots.load(str(ROOT), [app])
    rendered = pipeline.run(inputs.platform, inputs.apps, [env], pipeline.Options(skip_checks_for_tests=True))
    names = list(awscheck.needs(rendered.envs[0], [a.id for a in inputs.apps])[inputs.apps[0].id].secrets)
    for name in names:
        seed_secret(session, url, name)
    return names


def seed_bucket(session: boto3.Session, url: str, bucket: str) -> None:
    session.client("s3", endpoint_url=url).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": PROD_REGION}
    )
