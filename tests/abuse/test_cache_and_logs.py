"""The cache is never older than the database after a change, even when Redis vanishes at the
moment of the change; and a database error never puts SQL parameters (emails, hashes) in the log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.abuse.conftest import StartApi
from tests.support.pipeline import BASE_REDIS_URL
from tests.support.tcp_proxy import TcpProxy, tcp_proxy


async def _cached_pending_order(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A new order's id, once a read has been served from Redis (the fast path) as PENDING."""
    created = await client.post(
        "/orders/",
        json={"items": [{"product_id": "a", "quantity": 1, "price": "3.00"}]},
        headers=headers,
    )
    order_id: str = created.json()["id"]
    cached = await client.get(f"/orders/{order_id}/", headers=headers)
    assert (cached.headers["X-Cache"], cached.json()["status"]) == ("HIT", "PENDING")
    return order_id


@pytest.fixture
async def redis_proxy() -> AsyncIterator[TcpProxy]:
    async with tcp_proxy("127.0.0.1", 6379) as proxy:
        yield proxy


async def test_redis_cut_as_a_change_commits_never_leaves_the_old_status_served(
    start_api: StartApi, redis_proxy: TcpProxy
) -> None:
    assert BASE_REDIS_URL.startswith("redis://127.0.0.1:6379")
    api = await start_api(REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0")
    user = await api.user()
    async with api.client() as client:
        order_id = await _cached_pending_order(client, user.headers)
        url = f"/orders/{order_id}/"

        # Redis goes away exactly when the new body is written after the commit: the invalidation
        # before the commit got through, the refresh after it is lost.
        redis_proxy.cut_on(b'"status":"PAID"')
        changed = await client.patch(url, json={"status": "PAID"}, headers=user.headers)
        assert changed.status_code == 200, changed.text
        assert redis_proxy.cut.is_set()
        await redis_proxy.start()

        # Every read from now on shows PAID, from PostgreSQL until the cache is used again, then
        # from the cache itself.
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + 15
        while not seen or seen[-1][0] != "HIT":
            assert time.monotonic() < deadline, seen
            read = await client.get(url, headers=user.headers)
            assert read.status_code == 200
            seen.append((read.headers["X-Cache"], read.json()["status"]))
            await asyncio.sleep(0.1)

    assert {status for _, status in seen} == {"PAID"}


async def test_a_change_while_redis_is_down_is_refused_not_left_stale(
    start_api: StartApi, redis_proxy: TcpProxy
) -> None:
    api = await start_api(REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0")
    user = await api.user()
    async with api.client() as client:
        order_id = await _cached_pending_order(client, user.headers)
        url = f"/orders/{order_id}/"

        await redis_proxy.stop()
        refused = await client.patch(url, json={"status": "PAID"}, headers=user.headers)
        graphql = await client.post(
            "/graphql",
            json={
                "query": "mutation($id: UUID!) { updateOrderStatus(id: $id, status: PAID) { id } }",
                "variables": {"id": order_id},
            },
            headers=user.headers,
        )
        await redis_proxy.start()
        after = await client.get(url, headers=user.headers)

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "2"
    assert graphql.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert after.json()["status"] == "PENDING"


async def test_a_database_error_during_registration_logs_no_sql_parameters(
    start_api: StartApi, db_engine: AsyncEngine
) -> None:
    api = await start_api()
    async with db_engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION abuse_refuse_user() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER abuse_refuse_user BEFORE INSERT ON users "
                "FOR EACH ROW EXECUTE FUNCTION abuse_refuse_user()"
            )
        )
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            response = await client.post(
                "/register/",
                json={"email": "private.person@example.com", "password": "a-secret-password"},
            )
        await api.process.wait_for("refused by the test", within=10)
    finally:
        async with db_engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER abuse_refuse_user ON users"))
            await connection.execute(text("DROP FUNCTION abuse_refuse_user()"))

    log = "\n".join(api.process.lines)
    assert response.status_code == 500
    assert "private.person" not in log
    assert "$argon2" not in log
    assert "SQL parameters hidden" in log
