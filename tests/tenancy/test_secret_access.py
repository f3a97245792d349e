"""Each app namespace reads secrets through its own store and role; the role's rendered IAM policy is
evaluated (tests/tenancy/iam.py) against the secrets the app's ExternalSecrets read, and another's."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping

import pytest

from renderer.data import Json, json_object
from renderer.model import Environment
from renderer.render.kubernetes.tenancy import READ_ACTIONS, ROLE_ANNOTATION, remote_keys, secret_access
from renderer.render.tree import SHARED
from tests.conftest import ROOT
from tests.k8s.helpers import dig, render
from tests.tenancy.iam import allowed

ENVS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def documents() -> dict[str, Json]:
    return render(ROOT)


def _scope(documents: Mapping[str, Json], env: str, app: str) -> list[Mapping[str, Json]]:
    root = f"kubernetes/{env}/{app}/"
    return [json_object(d) for p, d in sorted(documents.items()) if p.startswith(root)]


def _apps(documents: Mapping[str, Json], env: str) -> list[str]:
    scopes = {p.split("/")[2] for p in documents if p.startswith(f"kubernetes/{env}/")}
    return sorted(scopes - {SHARED})


def _store_policy(documents: Mapping[str, Json], env: str, app: str) -> Mapping[str, Json]:
    """The policy of the role app's SecretStore assumes: store → its ServiceAccount → the role ARN
    annotated on it → the role of that name in the app's Terraform → the policy attached to it."""
    objects = _scope(documents, env, app)
    (store,) = [o for o in objects if o.get("kind") == "SecretStore"]
    account = str(dig(store, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "name"))
    (sa,) = [
        o for o in objects if o.get("kind") == "ServiceAccount" and dig(o, "metadata", "name") == account
    ]
    arn = str(json_object(dig(sa, "metadata", "annotations"))[ROLE_ANNOTATION])
    tf = json_object(documents[f"terraform/{env}/{app}/secret-access.tf.json"])
    role = json_object(dig(tf, "resource", "aws_iam_role", "secret_reader"))
    assert arn.endswith(f":role{role['path']}{role['name']}")
    attached = json_object(dig(tf, "resource", "aws_iam_role_policy", "secret_reader"))
    assert attached["role"] == "${aws_iam_role.secret_reader.id}"
    return json_object(json.loads(str(attached["policy"])))


def _arn(documents: Mapping[str, Json], env: str, name: str) -> str:
    """A secret's ARN as Secrets Manager forms it: the name, `-` and six random characters."""
    tf = json_object(documents[f"terraform/{env}/shop/main.tf.json"])
    provider = json_object(dig(tf, "provider", "aws"))
    account = json.loads(json.dumps(provider["allowed_account_ids"]))[0]
    return f"arn:aws:secretsmanager:{provider['region']}:{account}:secret:{name}-Ab12Cd"


def _allowed(policy: Mapping[str, Json], arn: str) -> bool:
    return all(allowed(policy, action, arn) for action in READ_ACTIONS)


def test_every_app_reading_secrets_has_its_own_store(documents: dict[str, Json]) -> None:
    seen = 0
    for env in ENVS:
        for app in _apps(documents, env):
            objects = _scope(documents, env, app)
            for es in (o for o in objects if o.get("kind") == "ExternalSecret"):
                ref = json_object(dig(es, "spec", "secretStoreRef"))
                if ref:  # generator-only ExternalSecrets name no store
                    assert ref == {"kind": "SecretStore", "name": "aws-secrets-manager"}
            if remote_keys(objects):
                _store_policy(documents, env, app)
                seen += 1
    assert seen >= 3


def test_an_app_store_reads_its_own_secrets_and_not_another_apps(documents: dict[str, Json]) -> None:
    pairs = 0
    for env in ENVS:
        readers = [a for a in _apps(documents, env) if remote_keys(_scope(documents, env, a))]
        for a, b in itertools.permutations(readers, 2):
            policy = _store_policy(documents, env, a)
            own, theirs = remote_keys(_scope(documents, env, a)), remote_keys(_scope(documents, env, b))
            assert own and theirs
            assert all(_allowed(policy, _arn(documents, env, k)) for k in own)
            # A's ExternalSecret rewritten to read B's path: the role A's store assumes refuses it
            for key in theirs:
                assert not _allowed(policy, _arn(documents, env, key)), (env, a, key)
            pairs += 1
    assert pairs >= 2


def test_prefix_of_another_app_and_other_environments_are_refused(documents: dict[str, Json]) -> None:
    policy = _store_policy(documents, "prod", "shop")
    assert _allowed(policy, _arn(documents, "prod", "platform/prod/shop/api/db"))
    for name in (
        "platform/prod/shopping/api/db",  # an app whose name starts with "shop"
        "platform/prod/billing/invoicer/db",
        "platform/prod/shared/postgres-instance/default/shared",  # a shared secret shop never reads
        "platform/staging/shop/api/db",
        "platform/prod/shop",  # the folder itself is no secret of the app
    ):
        assert not _allowed(policy, _arn(documents, "prod", name)), name
    assert not allowed(
        policy, "secretsmanager:PutSecretValue", _arn(documents, "prod", "platform/prod/shop/api/db")
    )


def test_the_role_trusts_only_the_apps_service_account(documents: dict[str, Json]) -> None:
    tf = json_object(documents["terraform/prod/shop/secret-access.tf.json"])
    trust = json.loads(str(dig(tf, "resource", "aws_iam_role", "secret_reader", "assume_role_policy")))
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    (condition,) = statement["Condition"].values()
    subjects = [v for k, v in condition.items() if k.endswith(":sub")]
    assert subjects == ["system:serviceaccount:shop:renderer.secret-reader"]


def _env(documents: Mapping[str, Json]) -> Environment:
    from renderer.inputs import roots as settings

    return settings.load(str(ROOT), []).platform.environments["prod"]


def test_shared_secrets_an_app_reads_are_allowed_one_by_one(documents: dict[str, Json]) -> None:
    env = _env(documents)
    used = "platform/prod/shared/postgres-instance/default/main"
    es: dict[str, Json] = {
        "kind": "ExternalSecret",
        "spec": {"data": [{"remoteRef": {"key": used}}, {"remoteRef": {"key": "platform/prod/shop/a/b"}}]},
    }
    tf = secret_access(env, "shop", [es])
    assert tf is not None
    policy = json_object(
        json.loads(str(dig(tf, "resource", "aws_iam_role_policy", "secret_reader", "policy")))
    )
    assert _allowed(policy, _arn(documents, "prod", used))
    assert not _allowed(policy, _arn(documents, "prod", used + "-other"))
    assert not _allowed(policy, _arn(documents, "prod", "platform/prod/shared/redis/default/cache"))
    assert secret_access(env, "shop", []) is None
