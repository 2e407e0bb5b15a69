"""The cached-read fast path (api/fastpath.py) answers exactly as the route would, and counts once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import Depends
from fastapi.routing import APIRoute
from redis.asyncio import Redis

from api.fastpath import CachedOrderFastPath, RouteChanged, check_route
from api.main import create_app
from api.routes import orders
from api.settings import ApiProcessSettings
from edge.resources import Resources
from infra.settings import RateLimitSettings
from tests.conftest import UserFactory, order_body
from tests.support.app import running_app
from tests.support.problems import problem

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
            "rate_limit": RateLimitSettings(enabled=True, default="5/minute", auth="100/minute"),
            "redis": settings.redis.model_copy(
                update={"key_prefix": f"{settings.redis.key_prefix}{uuid.uuid4().hex[:6]}:"}
            ),
        }
    )
    # Two apps on the same Redis counters: one with the fast path, one where the router answers.
    async with (
        running_app(limited) as (client, services),
        running_app(limited, without=CachedOrderFastPath) as (routed_client, _),
    ):
        user = await UserFactory(client).create()
        order_id = (await client.post("/orders/", json=order_body(), headers=user.headers)).json()[
            "id"
        ]
        cache = services.order_cache
        assert isinstance(services, Resources)
        assert cache is not None
        await redis_client.delete(cache.key(uuid.UUID(order_id)))

        # The fast path answers a miss too (from the database), then a hit; the router a hit.
        fast_miss = await client.get(f"/orders/{order_id}/", headers=user.headers)
        fast_hit = await client.get(f"/orders/{order_id}/", headers=user.headers)
        routed_hit = await routed_client.get(f"/orders/{order_id}/", headers=user.headers)
        routed_last = await routed_client.get(f"/orders/{order_id}/", headers=user.headers)
        fast_refused = await client.get(f"/orders/{order_id}/", headers=user.headers)

    # The POST counted 1 of 5; each GET counts exactly one more, whichever path served it.
    assert [
        (r.headers["X-Cache"], r.headers["X-RateLimit-Remaining"])
        for r in (fast_miss, fast_hit, routed_hit, routed_last)
    ] == [("MISS", "3"), ("HIT", "2"), ("HIT", "1"), ("HIT", "0")]
    body = problem(fast_refused, 429, "RATE_LIMITED", "TOO_MANY_REQUESTS")
    assert int(fast_refused.headers["Retry-After"]) >= 1
    assert body["retry_after"] == int(fast_refused.headers["Retry-After"])
    assert body["detail"].startswith("Rate limit exceeded")


async def test_the_app_refuses_to_start_when_the_route_no_longer_is_what_the_fast_path_reproduces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    route = next(
        r
        for r in orders.router.routes
        if isinstance(r, APIRoute)
        and r.path == "/orders/{order_id}/"
        and "GET" in (r.methods or ())
    )
    check_route(route)  # as it is: accepted

    async def audit() -> None:
        """A dependency the fast path would skip."""

    with_dependency = APIRoute(
        route.path,
        route.endpoint,
        response_model=route.response_model,
        dependencies=[*route.dependencies, Depends(audit)],
    )
    with_other_model = APIRoute(route.path, route.endpoint, response_model=dict[str, str])
    with pytest.raises(RouteChanged, match="its dependencies are"):
        check_route(with_dependency)
    with pytest.raises(RouteChanged, match="its response model is"):
        check_route(with_other_model)

    monkeypatch.setattr(route, "response_model", dict[str, str])
    with pytest.raises(RouteChanged, match=r"GET /orders/\{order_id\}/ changed"):
        create_app()


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
