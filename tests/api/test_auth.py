from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.settings import ApiProcessSettings
from domain.users.tokens import VerifiedToken
from edge.resources import Resources
from tests.conftest import UserFactory
from tests.support.problems import problem, same_problem


async def test_register_returns_the_new_user(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/register/", json={"email": "Alice@Example.com", "password": "long-enough-phrase"}
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "created_at"}
    assert (
        body["email"] == "Alice@example.com"
    )  # the domain part is normalised, the local part kept
    assert "password" not in response.text


async def test_email_is_unique_whatever_its_case(client: httpx.AsyncClient) -> None:
    first = await client.post(
        "/register/", json={"email": "bob@example.com", "password": "s3cret-password"}
    )
    second = await client.post(
        "/register/", json={"email": "BOB@example.COM", "password": "s3cret-password"}
    )

    assert first.status_code == 201
    assert "already exists" in problem(second, 409, "CONFLICT", "EMAIL_TAKEN")["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "long-enough-phrase"},
        {"email": "carol@example.com", "password": "short"},
        {"email": "carol@example.com"},
        {"email": "carol@example.com", "password": "long-enough-phrase", "is_admin": True},
    ],
    ids=["invalid-email", "short-password", "missing-password", "unknown-field"],
)
async def test_bad_registration_is_422_with_a_readable_detail(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/register/", json=body)

    answer = problem(response, 422, "BAD_USER_INPUT", "VALIDATION_FAILED")
    assert answer["errors"]
    assert all(set(error) == {"loc", "message", "type"} for error in answer["errors"])


async def test_token_is_an_rs256_jwt_with_the_required_claims(
    client: httpx.AsyncClient, users: UserFactory, settings: ApiProcessSettings
) -> None:
    user = await users.create()
    response = await client.post("/token", data={"username": user.email, "password": user.password})

    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.auth.access_token_expire_minutes * 60
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert header["alg"] == "RS256"
    assert claims["sub"] == str(user.id)
    assert {"exp", "iat", "iss", "aud"} <= set(claims)


async def test_login_is_case_insensitive_on_email(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create(email="dave@example.com")

    response = await client.post(
        "/token", data={"username": "DAVE@example.com", "password": user.password}
    )

    assert response.status_code == 200


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    wrong_password = await client.post(
        "/token", data={"username": user.email, "password": "nope-nope"}
    )
    unknown_email = await client.post(
        "/token", data={"username": "nobody@example.com", "password": "nope-nope"}
    )

    for response in (wrong_password, unknown_email):
        problem(response, 401, "UNAUTHENTICATED", "INVALID_CREDENTIALS")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert same_problem(wrong_password) == same_problem(unknown_email)


def _claims(settings: ApiProcessSettings, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "1",
        "iat": now,
        "exp": now + 600,
        "iss": settings.auth.jwt_issuer,
        "aud": settings.auth.jwt_audience,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _sign(settings: ApiProcessSettings, claims: dict[str, object]) -> str:
    return jwt.encode(claims, settings.auth.jwt_private_key_path.read_bytes(), algorithm="RS256")


def _forged_tokens(settings: ApiProcessSettings) -> dict[str, str]:
    now = int(time.time())
    public_pem = settings.auth.jwt_public_key_path.read_bytes()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    unsigned = jwt.encode(_claims(settings), key="", algorithm="none")
    # PyJWT refuses to HMAC-sign with a PEM key; build the HS256-with-public-key token by hand.
    hs256 = jwt.api_jws.PyJWS()
    hs256._algorithms["HS256"].prepare_key = lambda key: key  # type: ignore[method-assign]
    return {
        "expired": _sign(settings, _claims(settings, iat=now - 7200, exp=now - 3600)),
        "not-yet-valid": _sign(settings, _claims(settings, nbf=now + 3600)),
        "wrong-issuer": _sign(settings, _claims(settings, iss="someone-else")),
        "wrong-audience": _sign(settings, _claims(settings, aud="another-api")),
        "missing-sub": _sign(settings, _claims(settings, sub=None)),
        "missing-exp": _sign(settings, _claims(settings, exp=None)),
        "non-numeric-sub": _sign(settings, _claims(settings, sub="admin")),
        "wrong-key": jwt.encode(_claims(settings), other_pem, algorithm="RS256"),
        "alg-none": unsigned,
        "hs256-with-public-key": hs256.encode(
            jwt.utils.force_bytes(__import__("json").dumps(_claims(settings))),
            public_pem,
            algorithm="HS256",
        ),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not-yet-valid",
        "wrong-issuer",
        "wrong-audience",
        "missing-sub",
        "missing-exp",
        "non-numeric-sub",
        "wrong-key",
        "alg-none",
        "hs256-with-public-key",
        "garbage",
    ],
)
async def test_forged_or_stale_tokens_are_rejected(
    client: httpx.AsyncClient, users: UserFactory, settings: ApiProcessSettings, case: str
) -> None:
    await users.create()  # user id 1 exists, so only the token's flaws can fail the request
    token = _forged_tokens(settings)[case]

    response = await client.get("/orders/user/1/", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_valid_token_signed_by_our_key_is_accepted(
    client: httpx.AsyncClient, users: UserFactory, settings: ApiProcessSettings
) -> None:
    user = await users.create()
    token = _sign(settings, _claims(settings, sub=str(user.id)))

    response = await client.get(
        f"/orders/user/{user.id}/", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200


async def test_requests_without_a_token_are_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/orders/{uuid.uuid4()}/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_keys_are_not_in_the_repository() -> None:
    root = Path(__file__).resolve().parents[2]
    ignored = (root / ".gitignore").read_text().splitlines()
    assert ".secret_key/" in ignored
    assert ".env" in ignored


@pytest.mark.parametrize(
    ("method", "path", "token"),
    [
        # An invalid token on the cached read: the fast path, the rate limit and the route all ask.
        ("GET", f"/orders/{uuid.uuid4()}/", "not.a.jwt"),
        ("GET", f"/orders/{uuid.uuid4()}/events/", "not.a.jwt"),
        ("POST", "/orders/", "not.a.jwt"),
        ("POST", "/graphql", "not.a.jwt"),
    ],
)
async def test_a_token_is_verified_once_per_request(
    client: httpx.AsyncClient,
    app_state: Resources,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    token: str,
) -> None:
    verified: list[str] = []
    verify_token = app_state.tokens.verify_token

    def counted(token: str) -> VerifiedToken:
        verified.append(token)
        return verify_token(token)

    monkeypatch.setattr(app_state.tokens, "verify_token", counted)
    body: dict[str, object] = {"query": "{ me { id } }"} if path == "/graphql" else {"items": []}
    response = await client.request(
        method,
        path,
        headers={"Authorization": f"Bearer {token}"},
        json=body if method == "POST" else None,
    )

    assert response.status_code in {200, 401}, response.text
    assert verified == [token]
