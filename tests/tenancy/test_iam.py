"""The evaluator the tenancy tests rely on, against IAM's documented wildcard semantics."""

from __future__ import annotations

import pytest

from tests.tenancy.iam import allowed

ARN = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:"


def _policy(*resources: str, effect: str = "Allow") -> dict[str, object]:
    return {
        "Statement": [
            {"Effect": effect, "Action": ["secretsmanager:GetSecretValue"], "Resource": list(resources)}
        ]
    }


def test_star_spans_slashes_and_question_mark_is_one_character() -> None:
    p = _policy(ARN + "p/a/*", ARN + "p/shared/x-??????")
    assert allowed(p, "secretsmanager:GetSecretValue", ARN + "p/a/w/db-Ab12Cd")
    assert allowed(p, "SecretsManager:getsecretvalue", ARN + "p/a/w/db-Ab12Cd")  # actions: any case
    assert allowed(p, "secretsmanager:GetSecretValue", ARN + "p/shared/x-Ab12Cd")
    assert not allowed(p, "secretsmanager:GetSecretValue", ARN + "p/shared/x-Ab12Cde")
    assert not allowed(p, "secretsmanager:GetSecretValue", ARN + "p/shared/xy-Ab12Cd")
    assert not allowed(p, "secretsmanager:GetSecretValue", ARN + "p/ab/w-Ab12Cd")
    assert not allowed(p, "secretsmanager:GetSecretValue", ARN + "P/a/w-Ab12Cd")  # resources: exact case
    assert not allowed(p, "secretsmanager:PutSecretValue", ARN + "p/a/w-Ab12Cd")


def test_dots_are_literal_and_deny_wins() -> None:
    assert not allowed(_policy(ARN + "p/a.b/*"), "secretsmanager:GetSecretValue", ARN + "p/aXb/c")
    both = {
        "Statement": [*_policy(ARN + "*")["Statement"], *_policy(ARN + "p/b/*", effect="Deny")["Statement"]]
    }  # type: ignore[misc]
    assert allowed(both, "secretsmanager:GetSecretValue", ARN + "p/a/c")
    assert not allowed(both, "secretsmanager:GetSecretValue", ARN + "p/b/c")


def test_what_it_does_not_model_is_refused() -> None:
    p = {"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}
    with pytest.raises(ValueError):
        allowed(p, "secretsmanager:GetSecretValue", ARN + "x")
