"""The order cache, through the API and against the real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.engine import Engine

from api.settings import ApiProcessSettings
from edge.order_cache import OrderCache
from edge.resources import Resources
from infra.live import LiveMessage
from infra.settings import RedisSettings
from tests.conftest import ApiUser, UserFactory, order_body
from tests.support.app import running_app
from tests.support.tcp_proxy import tcp_proxy


async def _create(client: httpx.AsyncClient, user: ApiUser) -> str:
    response = await client.post("/orders/", json=order_body(), headers=user.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@contextmanager
def count_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _cache(state: Resources) -> OrderCache:
    assert state.order_cache is not None
    return state.order_cache


async def test_a_miss_is_filled_and_the_next_read_is_a_hit_without_the_database(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources, redis_client: Redis
) -> None:
    user = await users.create()
    order_id = await _create(client, user)
    await redis_client.delete(_cache(app_state).key(uuid.UUID(order_id)))

    with count_queries(app_state.engine.sync_engine) as miss_queries:
        miss = await client.get(f"/orders/{order_id}/", headers=user.headers)
    with count_queries(app_state.engine.sync_engine) as hit_queries:
        hit = await client.get(f"/orders/{order_id}/", headers=user.headers)

    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("MISS", "HIT")
    assert miss.json() == hit.json()
    assert len(miss_queries) >= 1
    assert hit_queries == []


async def test_cached_orders_expire_within_five_minutes(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources, redis_client: Redis
) -> None:
    user = await users.create()
    order_id = await _create(client, user)

    ttl = await redis_client.ttl(_cache(app_state).key(uuid.UUID(order_id)))

    assert 0 < ttl <= 300


async def test_a_status_change_is_visible_on_the_next_cached_read(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user)
    assert (await client.get(f"/orders/{order_id}/", headers=user.headers)).headers[
        "X-Cache"
    ] == "HIT"

    await client.patch(f"/orders/{order_id}/", json={"status": "PAID"}, headers=user.headers)
    after = await client.get(f"/orders/{order_id}/", headers=user.headers)

    assert after.headers["X-Cache"] == "HIT"
    assert after.json()["status"] == "PAID"


async def test_a_cached_order_is_never_served_to_another_user(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources, redis_client: Redis
) -> None:
    alice, bob = await users.create(), await users.create()
    order_id = await _create(client, alice)
    assert await redis_client.exists(_cache(app_state).key(uuid.UUID(order_id)))

    response = await client.get(f"/orders/{order_id}/", headers=bob.headers)

    assert response.status_code == 404
    assert alice.email not in response.text


async def test_a_slow_reader_cannot_put_an_older_version_back(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources
) -> None:
    """Versioned writes (a Lua compare): the reader loaded version 1 before the PATCH committed
    version 2; when it finally writes, Redis keeps version 2."""
    user = await users.create()
    order_id = await _create(client, user)
    stale = (await client.get(f"/orders/{order_id}/", headers=user.headers)).content
    await client.patch(f"/orders/{order_id}/", json={"status": "PAID"}, headers=user.headers)

    stored = await _cache(app_state).put(
        order_id=uuid.UUID(order_id), version=1, user_id=user.id, body=stale
    )
    after = await client.get(f"/orders/{order_id}/", headers=user.headers)

    assert stored is False
    assert after.headers["X-Cache"] == "HIT"
    assert after.json()["status"] == "PAID"


async def test_a_failed_change_does_not_touch_the_cache(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user)
    await client.patch(f"/orders/{order_id}/", json={"status": "CANCELED"}, headers=user.headers)

    refused = await client.patch(
        f"/orders/{order_id}/", json={"status": "PAID"}, headers=user.headers
    )
    after = await client.get(f"/orders/{order_id}/", headers=user.headers)

    assert refused.status_code == 409
    assert after.json()["status"] == "CANCELED"


def _redis_on_port(settings: ApiProcessSettings, port: int) -> ApiProcessSettings:
    """The same settings, with Redis reached on `port` (a proxy in front of the real one)."""
    redis = settings.redis.model_copy(update={"url": f"redis://127.0.0.1:{port}/0"})
    return settings.model_copy(update={"redis": redis})


async def _exercise_without_redis(client: httpx.AsyncClient, user: ApiUser) -> list[str]:
    """Create and read an order twice, then try to change it; returns the X-Cache headers of the reads.

    A change needs the cached copy invalidated first, so without Redis it is refused (503) and the
    order stays as it was: a stale copy can never outlive the outage.
    """
    order_id = await _create(client, user)
    first = await client.get(f"/orders/{order_id}/", headers=user.headers)
    second = await client.get(f"/orders/{order_id}/", headers=user.headers)
    changed = await client.patch(
        f"/orders/{order_id}/", json={"status": "PAID"}, headers=user.headers
    )
    third = await client.get(f"/orders/{order_id}/", headers=user.headers)
    assert [r.status_code for r in (first, second, changed, third)] == [200, 200, 503, 200]
    assert changed.headers["Retry-After"] == "2"
    assert third.json()["status"] == "PENDING"
    return [r.headers["X-Cache"] for r in (first, second, third)]


async def test_with_redis_refusing_connections_reads_work_from_postgres_and_changes_wait(
    settings: ApiProcessSettings, clean_db: object
) -> None:
    down = settings.model_copy(update={"redis": RedisSettings(url="redis://127.0.0.1:1/0")})
    async with running_app(down) as (client, _):
        user = await UserFactory(client).create()

        assert await _exercise_without_redis(client, user) == ["MISS", "MISS", "MISS"]


async def test_a_hung_redis_costs_each_request_at_most_its_timeout_then_is_skipped(
    settings: ApiProcessSettings, clean_db: object
) -> None:
    async with tcp_proxy("127.0.0.1", 6379) as proxy:
        proxy.blackhole()
        hung = _redis_on_port(settings, proxy.port)
        async with running_app(hung) as (client, _):
            user = await UserFactory(client).create()
            order_id = await _create(client, user)

            started = time.perf_counter()
            reads = [
                await client.get(f"/orders/{order_id}/", headers=user.headers) for _ in range(10)
            ]
            elapsed = time.perf_counter() - started

    assert all(r.status_code == 200 and r.headers["X-Cache"] == "MISS" for r in reads)
    # Without the timeout a read would hang; without the breaker, 10 reads would each wait 0.1 s.
    assert elapsed < 1.0


async def test_caching_resumes_by_itself_when_redis_returns(
    settings: ApiProcessSettings, clean_db: object
) -> None:
    async with tcp_proxy("127.0.0.1", 6379) as proxy:
        via_proxy = _redis_on_port(settings, proxy.port)
        async with running_app(via_proxy) as (client, _):
            user = await UserFactory(client).create()
            await proxy.stop()
            assert await _exercise_without_redis(client, user) == ["MISS", "MISS", "MISS"]

            await proxy.start()
            order_id = await _create(client, user)
            deadline = time.monotonic() + 10
            while True:
                read = await client.get(f"/orders/{order_id}/", headers=user.headers)
                if read.headers["X-Cache"] == "HIT" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)

    assert read.headers["X-Cache"] == "HIT"


async def test_a_write_answers_with_the_bytes_it_cached(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    """POST and PATCH answer with the JSON they stored (built once): a cached read of the order
    right after gives the same bytes."""
    user = await users.create()
    created = await client.post("/orders/", json=order_body(("5.50", 2)), headers=user.headers)
    order_id = created.json()["id"]
    read = await client.get(f"/orders/{order_id}/", headers=user.headers)
    changed = await client.patch(
        f"/orders/{order_id}/", json={"status": "PAID"}, headers=user.headers
    )
    read_again = await client.get(f"/orders/{order_id}/", headers=user.headers)

    assert (created.status_code, changed.status_code) == (201, 200)
    assert read.headers["X-Cache"] == read_again.headers["X-Cache"] == "HIT"
    assert created.content == read.content
    assert changed.content == read_again.content
    assert created.headers["content-type"] == changed.headers["content-type"] == "application/json"
    assert created.headers["content-length"] == str(len(created.content))


async def test_a_refresh_publishes_its_live_message_whether_or_not_it_stored(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources, redis_client: Redis
) -> None:
    """A write's cache refresh carries its live event (one Redis call after the commit): the event
    goes out even when a newer version is cached already and the body is not stored."""
    user = await users.create()
    order_id = uuid.UUID(await _create(client, user))
    channel = f"{app_state.settings.redis.key_prefix}test-live:{uuid.uuid4()}"
    async with redis_client.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        assert (await pubsub.get_message(timeout=1.0) or {}).get("type") == "subscribe"

        stored = await _cache(app_state).put(
            order_id=order_id,
            version=0,
            user_id=user.id,
            body=b"{}",
            then_publish=LiveMessage(channel=channel, payload=b"older, still announced"),
        )
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2.0)

    assert stored is False
    assert message is not None
    assert message["data"] == b"older, still announced"
