"""AWS at the edge: read-only metadata calls (Secrets Manager, ECR, S3) as the environment's check role.

Credentials come from the standard chain (environment, profile, instance or web identity; an
`AWS_ENDPOINT_URL` is honoured as botocore honours it); the session then assumes the read-only
`check_role` the environment file names and refuses to go on when that role is not in the
environment's account. Only metadata calls are made: `DescribeSecret` (never `GetSecretValue`),
`DescribeImages`, `HeadBucket`. Throttling is retried by botocore's standard retry mode; any other
failure stops the run at once with one message naming the account, region, call and resource.
boto3 is imported here only, when an `Aws` is made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from renderer.errors import PublishError

ATTEMPTS = 5  # botocore standard mode: the first call and 4 retries, exponential backoff with jitter
TIMEOUT = 10.0  # seconds to connect, and to read each answer
SESSION_NAME = "platform-renderer-check"
CURRENT = "AWSCURRENT"
KEYS_TAG = "platform-renderer/keys"  # a module may list its secret's keys (comma-separated, not secret)
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403", "Forbidden"}
MISSING = {"ResourceNotFoundException", "ImageNotFoundException", "RepositoryNotFoundException"}
MISSING_BUCKET = {"404", "NoSuchBucket", "NotFound"}
ECR_IMAGE = re.compile(
    r"^(?P<registry>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
)

SecretStatus: TypeAlias = Literal["present", "missing", "no-current-version", "deleted"]


class NotFound(Exception):
    """The resource asked about does not exist (callers turn it into "missing")."""


class AwsError(PublishError):
    """AWS did not answer what was asked (denied, throttled past the retries, unreachable): exit 5."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the checks look, and as whom: from the environment file."""

    env: str
    file: str
    account_id: str
    region: str
    check_role: str


@dataclass(frozen=True, slots=True)
class Secret:
    status: SecretStatus
    keys: tuple[str, ...] | None = None  # from KEYS_TAG when the module publishes it, else unknown


@dataclass(frozen=True, slots=True)
class EcrImage:
    registry: str  # the registry's account id
    region: str
    repository: str
    tag: str


def ecr_image(image: str) -> EcrImage | None:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`, or None for any other registry."""
    m = ECR_IMAGE.match(image)
    if m is None:
        return None
    return EcrImage(m["registry"], m["region"], m["repository"], m["tag"])


class Cloud(Protocol):
    """What the checks ask of AWS; `Aws` answers from the real thing."""

    def secret(self, name: str) -> Secret: ...

    def image_digest(self, image: EcrImage) -> str | None: ...

    def bucket_exists(self, bucket: str) -> bool: ...


class _Client(Protocol):
    """The few calls made, as boto3's clients (sts, secretsmanager, ecr, s3) take them."""

    def assume_role(self, *, RoleArn: str, RoleSessionName: str) -> Mapping[str, object]: ...

    def get_caller_identity(self) -> Mapping[str, object]: ...

    def describe_secret(self, *, SecretId: str) -> Mapping[str, object]: ...

    def describe_images(
        self,
        *,
        registryId: str,
        repositoryName: str,
        imageIds: list[dict[str, str]],
    ) -> Mapping[str, object]: ...

    def head_bucket(self, *, Bucket: str) -> Mapping[str, object]: ...


class Aws:
    """A session as the check role, in the environment's account; one client per service and region."""

    def __init__(self, target: Target, *, timeout: float = TIMEOUT, attempts: int = ATTEMPTS) -> None:
        import boto3
        from botocore.config import Config

        self.target = target
        self._attempts = attempts
        self._config = Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=timeout,
            read_timeout=timeout,
            user_agent_extra="platform-renderer",
        )
        self._clients: dict[tuple[str, str], _Client] = {}
        base = boto3.Session(region_name=target.region)
        sts = base.client("sts", config=self._config)
        creds = self._call("sts:AssumeRole", target.check_role, lambda: self._assume(sts), missing=())
        self._session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=target.region,
        )
        self._check_account()

    def _assume(self, sts: _Client) -> Mapping[str, str]:
        answer = sts.assume_role(RoleArn=self.target.check_role, RoleSessionName=SESSION_NAME)
        creds = answer["Credentials"]
        if not isinstance(creds, Mapping):
            raise TypeError("AssumeRole answered without Credentials")
        return {k: str(v) for k, v in creds.items()}

    def _check_account(self) -> None:
        me = self._call(
            "sts:GetCallerIdentity",
            self.target.check_role,
            self._client("sts").get_caller_identity,
            missing=(),
        )
        account = str(me.get("Account", ""))
        if account != self.target.account_id:
            raise AwsError(
                f"{self.target.file}: the check role {self.target.check_role} is in account {account}, "
                f"but environment {self.target.env} is account {self.target.account_id}: fix aws.check_role"
            )

    def _client(self, service: str, region: str = "") -> _Client:
        key = (service, region or self.target.region)
        if key not in self._clients:
            self._clients[key] = self._session.client(service, region_name=key[1], config=self._config)
        return self._clients[key]

    def secret(self, name: str) -> Secret:
        """Whether the secret exists with a current version; its key list when the module tagged it."""
        client = self._client("secretsmanager")
        try:
            found = self._call(
                "secretsmanager:DescribeSecret", name, lambda: client.describe_secret(SecretId=name)
            )
        except NotFound:
            return Secret("missing")
        if found.get("DeletedDate"):
            return Secret("deleted")
        stages = found.get("VersionIdsToStages")
        current = isinstance(stages, Mapping) and any(CURRENT in s for s in stages.values())
        return Secret("present" if current else "no-current-version", _keys(found.get("Tags")))

    def image_digest(self, image: EcrImage) -> str | None:
        """The digest the tag points at in ECR, or None when the repository or the tag is not there."""
        client = self._client("ecr", image.region)
        resource = f"{image.registry}.dkr.ecr.{image.region}.amazonaws.com/{image.repository}:{image.tag}"
        try:
            found = self._call(
                "ecr:DescribeImages",
                resource,
                lambda: client.describe_images(
                    registryId=image.registry,
                    repositoryName=image.repository,
                    imageIds=[{"imageTag": image.tag}],
                ),
                region=image.region,
            )
        except NotFound:
            return None
        details = found.get("imageDetails")
        if not isinstance(details, list) or not details or not isinstance(details[0], Mapping):
            return None
        digest = details[0].get("imageDigest")
        return digest if isinstance(digest, str) else None

    def bucket_exists(self, bucket: str) -> bool:
        client = self._client("s3")
        try:
            self._call(
                "s3:HeadBucket", bucket, lambda: client.head_bucket(Bucket=bucket), missing=MISSING_BUCKET
            )
        except NotFound:
            return False
        return True

    def _call(
        self,
        call: str,
        resource: str,
        fn: Callable[[], Mapping[str, object]],
        *,
        region: str = "",
        missing: Collection[str] = MISSING,
    ) -> Mapping[str, object]:
        """One AWS call; NotFound when it answers one of the `missing` codes, AwsError for any other
        failure."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in missing:
                raise NotFound(resource) from None
            raise AwsError(self._message(call, resource, region, code, exc)) from None
        except BotoCoreError as exc:
            raise AwsError(self._message(call, resource, region, type(exc).__name__, exc)) from None

    def _message(self, call: str, resource: str, region: str, code: str, exc: Exception) -> str:
        t = self.target
        where = (
            f"AWS {call} on {resource} "
            f"(account {t.account_id}, region {region or t.region}, as {t.check_role})"
        )
        if code in DENIED:
            return (
                f"{where}: access denied; the check role needs {call} on it (read-only metadata); "
                "stopped at the first denial, nothing else was checked"
            )
        if "Throttl" in code or code in {"TooManyRequestsException", "RequestLimitExceeded"}:
            return f"{where}: throttled ({code}) after {self._attempts} attempts; run again later"
        return f"{where}: {code}: {_first_line(exc)}"


def _keys(tags: object) -> tuple[str, ...] | None:
    if not isinstance(tags, list):
        return None
    for tag in tags:
        if isinstance(tag, Mapping) and tag.get("Key") == KEYS_TAG:
            return tuple(sorted(k.strip() for k in str(tag.get("Value", "")).split(",") if k.strip()))
    return None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
