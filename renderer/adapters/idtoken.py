"""GitLab CI ID tokens: who triggered a render, proven by the GitLab instance's signature.

An app pipeline cannot forge its project path: its job asks GitLab for an ID token (`id_tokens:`
with the platform's audience), GitLab signs it with the instance key, and the platform's job
verifies the signature against the instance's published keys (JWKS) before it trusts any claim.
PyJWT does the verification; the keys are fetched over HTTPS with a timeout. Keys that cannot be
fetched are a publish failure (exit 5: run again), not a denial.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderer.errors import AccessDenied, PublishError

ALGORITHMS = ("RS256",)
DEFAULT_TIMEOUT = 10.0  # seconds for the key fetch


class KeysUnavailable(PublishError):
    """The GitLab instance's signing keys could not be fetched: the token is neither good nor bad yet."""


@dataclass(frozen=True, slots=True)
class AppIdentity:
    """The verified claims the renderer uses: where the app comes from and which commit."""

    project_path: str  # the owner of the app, e.g. "team-a/shop"
    sha: str
    ref: str
    issuer: str


def jwks_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/oauth/discovery/keys"


def verify(token: str, issuer: str, audience: str, timeout: float = DEFAULT_TIMEOUT) -> AppIdentity:
    """Check signature, issuer, audience and expiry; raise AccessDenied naming what failed."""
    import jwt  # imported here: only the commands that verify pay for it

    try:
        key = jwt.PyJWKClient(jwks_url(issuer), timeout=timeout, cache_keys=True).get_signing_key_from_jwt(
            token
        )
        claims = jwt.decode(
            token,
            key.key,
            algorithms=list(ALGORITHMS),
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "project_path", "sha", "ref"]},
        )
    except jwt.PyJWKClientConnectionError as exc:
        raise KeysUnavailable(
            f"could not fetch the signing keys from {jwks_url(issuer)} within {timeout:g} s: {exc}; "
            "run the job again"
        ) from None
    except jwt.PyJWKClientError as exc:
        raise AccessDenied(f"the ID token's signing key is not one {issuer} publishes: {exc}") from None
    except jwt.InvalidTokenError as exc:
        raise AccessDenied(f"the ID token was refused: {exc}") from None
    return AppIdentity(
        project_path=_text(claims.get("project_path")),
        sha=_text(claims.get("sha")),
        ref=_text(claims.get("ref")),
        issuer=issuer,
    )


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise AccessDenied("the ID token lacks a string claim the renderer needs")
    return value
