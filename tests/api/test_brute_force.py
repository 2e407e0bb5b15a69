"""Password guessing: /token (and the GraphQL `token` mutation) is limited per client IP, per
account and client IP, and per account from every address. The per-account ceiling holds whatever
IPs the guesses come from, and the answers are the same whether or not the email has an account."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from api.main import create_app
from api.settings import ApiProcessSettings
from infra.settings import RateLimitSettings

PASSWORD = "correct horse"
Client = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def client_from(settings: ApiProcessSettings, clean_db: object) -> AsyncIterator[Client]:
    """Clients of one app, each from a client IP of its own (as the TCP peer the app sees)."""
    limited = settings.model_copy(
        update={
            "rate_limit": RateLimitSettings(
                enabled=True,
                default="1000/minute",
                auth="1000/minute",
                login_per_account="3/minute",
                login_per_account_global="5/minute",
            ),
            # A limit fails open when Redis is slow: on a busy test machine the default 0.1 s
            # timeout would let guesses through uncounted, which is not what these tests judge.
            "redis": settings.redis.model_copy(
                update={
                    "key_prefix": f"{settings.redis.key_prefix}{uuid.uuid4().hex[:6]}:",
                    "socket_timeout_seconds": 5.0,
                }
            ),
        }
    )
    app: FastAPI = create_app(limited)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))

        def client(ip: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(ip, 40000))
            made = httpx.AsyncClient(transport=transport, base_url="http://test")
            stack.push_async_callback(made.aclose)
            return made

        await client("10.9.9.9").post(
            "/register/", json={"email": "alice@example.com", "password": PASSWORD}
        )
        yield client


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/token", data={"username": email, "password": password})


async def test_guesses_on_one_account_are_limited_whatever_ips_they_come_from(
    client_from: Client,
) -> None:
    statuses = [
        (await _login(client_from(f"10.0.0.{n}"), "alice@example.com", f"guess-{n}")).status_code
        for n in range(6)
    ]
    # Every attempt counts, so the right password is refused too until the window ends.
    right = await _login(client_from("10.0.1.1"), "alice@example.com", PASSWORD)

    assert statuses == [401, 401, 401, 401, 401, 429]
    assert right.status_code == 429
    assert 1 <= int(right.headers["Retry-After"]) <= 60


async def test_letter_case_gives_no_extra_guesses(client_from: Client) -> None:
    emails = ["alice@example.com", "Alice@Example.com", "ALICE@EXAMPLE.COM", "aLiCe@example.com"]

    statuses = [
        (await _login(client_from("10.0.2.1"), email, "wrong-password")).status_code
        for email in emails
    ]

    assert statuses == [401, 401, 401, 429]


async def test_another_account_is_unaffected(client_from: Client) -> None:
    for n in range(4):
        await _login(client_from(f"10.0.3.{n}"), "alice@example.com", "wrong-password")
    await client_from("10.0.3.9").post(
        "/register/", json={"email": "bob@example.com", "password": PASSWORD}
    )

    bob = await _login(client_from("10.0.3.9"), "bob@example.com", PASSWORD)

    assert bob.status_code == 200


async def test_the_answers_do_not_tell_whether_the_email_has_an_account(
    client_from: Client,
) -> None:
    def shape(response: httpx.Response) -> tuple[int, str, list[str]]:
        # The whole answer but its request id, with every number (a limit, a wait) blurred.
        body = {name: value for name, value in response.json().items() if name != "request_id"}
        blurred = re.sub(r"\d+", "N", json.dumps(body, sort_keys=True))
        headers = sorted(name for name in response.headers if name.lower().startswith("x-rate"))
        return response.status_code, blurred, headers

    existing = [
        shape(await _login(client_from("10.0.4.1"), "alice@example.com", "wrong")) for _ in range(5)
    ]
    unknown = [
        shape(await _login(client_from("10.0.4.2"), "nobody@example.com", "wrong"))
        for _ in range(5)
    ]

    assert existing == unknown
    assert [status for status, _, _ in existing] == [401, 401, 401, 429, 429]


async def test_graphql_token_spends_the_same_per_account_budget(client_from: Client) -> None:
    mutation = 'mutation { token(email: "alice@example.com", password: "wrong") { accessToken } }'
    for n in range(5):
        await _login(client_from(f"10.0.5.{n}"), "alice@example.com", "wrong")

    response = await client_from("10.0.5.9").post("/graphql", json={"query": mutation})

    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
