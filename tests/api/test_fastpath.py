"""The cached-read fast path (api/fastpath.py) answers exactly as the route would, and counts once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis

from api.fastpath import CachedOrderFastPath
from api.settings import ApiProcessSettings
from edge.resources import Resources
from infra.settings import RateLimitSettings
from tests.conftest import UserFactory, order_body
from tests.support.app import running_app

_VOLATILE = {"date", "x-request-id"}


@asynccontextmanager
async def app_without_fast_path(settings: ApiProcessSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings, without=CachedOrderFastPath) as (client, _):
        yield client


async def test_a_hit_is_answered_exactly_as_the_route_answers_it(
    client: httpx.AsyncClient, users: UserFactory, settings: ApiProcessSettings
) -> None:
    user = await users.create()
    order_id = (await client.post("/orders/", json=order_body(), headers=user.headers)).json()["id"]
    headers = {**user.headers, "Origin": "http://localhost:3000"}

    fast = await client.get(f"/orders/{order_id}/", headers=headers)
    async with app_without_fast_path(settings) as plain_client:
        routed = await plain_client.get(f"/orders/{order_id}/", headers=headers)

    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    assert fast.headers["X-Cache"] == routed.headers["X-Cache"] == "HIT"
    assert {k: v for k, v in fast.headers.items() if k not in _VOLATILE} == {
        k: v for k, v in routed.headers.items() if k not in _VOLATILE
    }
    assert fast.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


async def test_a_request_is_counted_once_whether_the_fast_path_serves_it_or_not(
    settings: ApiProcessSettings, clean_db: object, redis_client: Redis
) -> None:
    limited = settings.model_copy(
        update={
            "rate_limit": RateLimitSettings(enabled=True, default="3/minute", auth="100/minute"),
            "redis": settings.redis.model_copy(
                update={"key_prefix": f"{settings.redis.key_prefix}{uuid.uuid4().hex[:6]}:"}
            ),
        }
    )
    async with running_app(limited) as (client, services):
        user = await UserFactory(client).create()
        order_id = (await client.post("/orders/", json=order_body(), headers=user.headers)).json()[
            "id"
        ]
        cache = services.order_cache
        assert isinstance(services, Resources)
        assert cache is not None
        await redis_client.delete(cache.key(uuid.UUID(order_id)))

        miss = await client.get(f"/orders/{order_id}/", headers=user.headers)  # falls through
        hit = await client.get(
            f"/orders/{order_id}/", headers=user.headers
        )  # served on the fast path
        refused = await client.get(f"/orders/{order_id}/", headers=user.headers)

    # The POST counted 1 of 3; each GET counts exactly one more.
    assert (miss.headers["X-Cache"], miss.headers["X-RateLimit-Remaining"]) == ("MISS", "1")
    assert (hit.headers["X-Cache"], hit.headers["X-RateLimit-Remaining"]) == ("HIT", "0")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["detail"].startswith("Rate limit exceeded")


async def test_what_the_fast_path_declines_still_gets_the_routes_answer(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    order_id = (await client.post("/orders/", json=order_body(), headers=alice.headers)).json()[
        "id"
    ]

    foreign = await client.get(f"/orders/{order_id}/", headers=bob.headers)
    no_token = await client.get(f"/orders/{order_id}/")
    bad_token = await client.get(f"/orders/{order_id}/", headers={"Authorization": "Bearer nope"})
    not_uuid = await client.get(
        "/orders/0123456789abcdef0123456789abcdefXYZ/", headers=alice.headers
    )

    assert [r.status_code for r in (foreign, no_token, bad_token, not_uuid)] == [404, 401, 401, 422]


async def test_a_current_etag_gets_the_same_304_from_the_fast_path_and_the_route(
    client: httpx.AsyncClient, users: UserFactory, settings: ApiProcessSettings
) -> None:
    user = await users.create()
    order_id = (await client.post("/orders/", json=order_body(), headers=user.headers)).json()["id"]
    headers = {**user.headers, "If-None-Match": '"1"'}

    fast = await client.get(f"/orders/{order_id}/", headers=headers)
    async with app_without_fast_path(settings) as plain_client:
        routed = await plain_client.get(f"/orders/{order_id}/", headers=headers)

    assert fast.status_code == routed.status_code == 304
    assert fast.content == routed.content == b""
    assert fast.headers["ETag"] == '"1"'
    assert {k: v for k, v in fast.headers.items() if k not in _VOLATILE} == {
        k: v for k, v in routed.headers.items() if k not in _VOLATILE
    }
