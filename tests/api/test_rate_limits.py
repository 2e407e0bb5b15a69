"""Rate limits against the real Redis: counted across processes, failing open when Redis is away."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from api.settings import ApiProcessSettings
from infra.settings import RateLimitSettings, RedisSettings
from tests.conftest import UserFactory
from tests.support.app import running_app
from tests.support.problems import problem


@pytest.fixture
def limited(settings: ApiProcessSettings, clean_db: object) -> ApiProcessSettings:
    """Small limits under a key prefix of this test's own, so budgets never leak between tests."""
    return settings.model_copy(
        update={
            "rate_limit": RateLimitSettings(enabled=True, default="5/minute", auth="4/minute"),
            "redis": settings.redis.model_copy(
                update={"key_prefix": f"{settings.redis.key_prefix}{uuid.uuid4().hex[:6]}:"}
            ),
        }
    )


@pytest.fixture
async def limited_client(limited: ApiProcessSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(limited) as (client, _):
        yield client


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    await client.post("/register/", json={"email": email, "password": "s3cret-password"})
    token = await client.post("/token", data={"username": email, "password": "s3cret-password"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_the_request_past_the_limit_gets_429_with_retry_after(
    limited_client: httpx.AsyncClient,
) -> None:
    headers = await _login(limited_client)
    responses = [await limited_client.get("/orders/user/1/", headers=headers) for _ in range(6)]

    assert [r.status_code for r in responses[:5]] == [200] * 5
    assert [r.headers["X-RateLimit-Remaining"] for r in responses[:5]] == ["4", "3", "2", "1", "0"]
    refused = responses[5]
    body = problem(refused, 429, "RATE_LIMITED", "TOO_MANY_REQUESTS")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert body["retry_after"] == int(refused.headers["Retry-After"])
    assert refused.headers["X-RateLimit-Limit"] == "5"
    assert "Rate limit exceeded" in body["detail"]


async def test_each_user_has_a_budget_of_their_own(limited_client: httpx.AsyncClient) -> None:
    alice = await _login(limited_client)
    for _ in range(5):
        await limited_client.get("/orders/user/1/", headers=alice)
    bob = await _login(limited_client)

    assert (await limited_client.get("/orders/user/2/", headers=alice)).status_code == 429
    assert (await limited_client.get("/orders/user/2/", headers=bob)).status_code == 200


async def test_auth_routes_are_limited_per_ip_and_forwarded_for_is_not_trusted(
    limited_client: httpx.AsyncClient,
) -> None:
    statuses = [
        (
            await limited_client.post(
                "/token",
                data={"username": "x@example.com", "password": "whatever1"},
                headers={"X-Forwarded-For": f"10.0.0.{n}"},
            )
        ).status_code
        for n in range(5)
    ]

    assert statuses == [401, 401, 401, 401, 429]


async def test_two_app_instances_share_one_budget(limited: ApiProcessSettings) -> None:
    async with running_app(limited) as (first, _), running_app(limited) as (second, _):
        headers = await _login(first)  # two auth requests counted on the IP, not on the user
        statuses = [
            (await (first if n % 2 else second).get("/orders/user/1/", headers=headers)).status_code
            for n in range(6)
        ]

    assert statuses == [200] * 5 + [429]


async def test_docs_and_schema_are_never_limited(limited_client: httpx.AsyncClient) -> None:
    statuses = {
        (await limited_client.get(path)).status_code for path in ["/openapi.json", "/docs"] * 5
    }

    assert statuses == {200}


async def test_limits_are_off_when_disabled(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()

    responses = [
        await client.get(f"/orders/user/{user.id}/", headers=user.headers) for _ in range(120)
    ]

    assert {r.status_code for r in responses} == {200}
    assert "X-RateLimit-Limit" not in responses[0].headers


async def test_limits_fail_open_when_redis_is_down(limited: ApiProcessSettings) -> None:
    down = limited.model_copy(update={"redis": RedisSettings(url="redis://127.0.0.1:1/0")})
    async with running_app(down) as (client, _):
        headers = await _login(client)
        statuses = {
            (await client.get("/orders/user/1/", headers=headers)).status_code for _ in range(10)
        }

    assert statuses == {200}
