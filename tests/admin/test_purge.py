"""Nothing grows forever: `orders-admin purge` and the worker's schedule delete the bookkeeping rows
past their age (published outbox events, processed-event records, expired idempotency keys, idle
webhook fan-out cursors) and keep orders, their history, and every row still of use."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db import utcnow
from tests.conftest import UserFactory, order_body
from tests.support.processes import Processes, free_port
from tests.support.staff import orders_admin


async def _count(engine: AsyncEngine, sql: str, **params: object) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(sql), params)).scalar_one())


async def _old_and_new_rows(
    engine: AsyncEngine, client: httpx.AsyncClient, users: UserFactory
) -> dict[str, uuid.UUID]:
    """An order with an expired key and one with a live key; outbox and processed-event rows old and
    new. Returns the ids the assertions look for."""
    user = await users.create()
    expired = await client.post(
        "/orders/", json=order_body(), headers={**user.headers, "Idempotency-Key": "old-key"}
    )
    live = await client.post(
        "/orders/", json=order_body(), headers={**user.headers, "Idempotency-Key": "new-key"}
    )
    assert (expired.status_code, live.status_code) == (201, 201)
    now = utcnow()
    ids = {name: uuid.uuid4() for name in ("old_published", "new_published", "old_pending")}
    ids |= {"processed_gone": uuid.uuid4(), "processed_recent": uuid.uuid4()}
    # A fan-out cursor of an order since deleted (no event left), and one of an order of today.
    ids |= {"cursor_gone": uuid.uuid4(), "cursor_recent": uuid.UUID(live.json()["id"])}
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE order_idempotency_keys SET created_at = :at WHERE idempotency_key = 'old-key'"
            ),
            {"at": now - timedelta(hours=25)},
        )
        for name, published_at in (
            ("old_published", now - timedelta(hours=200)),
            ("new_published", now - timedelta(hours=1)),
            ("old_pending", None),
        ):
            await connection.execute(
                text(
                    "INSERT INTO outbox_events (id, event_type, payload, created_at, published_at)"
                    " VALUES (:id, 'test', '{}', :created, :published)"
                ),
                {"id": ids[name], "created": now - timedelta(hours=300), "published": published_at},
            )
        for name, processed_at in (
            ("processed_gone", now - timedelta(days=40)),  # its outbox row is long gone
            ("old_pending", now - timedelta(days=40)),  # its outbox row remains: kept
            ("processed_recent", now - timedelta(days=1)),
        ):
            await connection.execute(
                text(
                    "INSERT INTO processed_events (event_id, event_type, started_at, processed_at)"
                    " VALUES (:id, 'test', :at, :at)"
                ),
                {"id": ids[name], "at": processed_at},
            )
        for name in ("cursor_gone", "cursor_recent"):
            await connection.execute(
                text("INSERT INTO webhook_order_cursors (order_id, seq) VALUES (:id, 1)"),
                {"id": ids[name]},
            )
    return ids


async def _assert_purged(engine: AsyncEngine, ids: dict[str, uuid.UUID]) -> None:
    outbox = "SELECT count(*) FROM outbox_events WHERE id = :id"
    processed = "SELECT count(*) FROM processed_events WHERE event_id = :id"
    assert await _count(engine, outbox, id=ids["old_published"]) == 0
    assert await _count(engine, outbox, id=ids["new_published"]) == 1
    assert await _count(engine, outbox, id=ids["old_pending"]) == 1  # never published: kept
    assert await _count(engine, processed, id=ids["processed_gone"]) == 0
    assert await _count(engine, processed, id=ids["old_pending"]) == 1
    assert await _count(engine, processed, id=ids["processed_recent"]) == 1
    keys = "SELECT count(*) FROM order_idempotency_keys WHERE idempotency_key = :key"
    assert await _count(engine, keys, key="old-key") == 0
    assert await _count(engine, keys, key="new-key") == 1
    cursors = "SELECT count(*) FROM webhook_order_cursors WHERE order_id = :id"
    assert await _count(engine, cursors, id=ids["cursor_gone"]) == 0
    assert await _count(engine, cursors, id=ids["cursor_recent"]) == 1
    # Business data stays: both orders and their CREATED history.
    assert await _count(engine, "SELECT count(*) FROM orders") == 2
    assert await _count(engine, "SELECT count(*) FROM order_events") == 2


async def test_orders_admin_purge_removes_what_is_past_its_age_and_keeps_the_rest(
    client: httpx.AsyncClient, users: UserFactory, database_url: str, clean_db: AsyncEngine
) -> None:
    ids = await _old_and_new_rows(clean_db, client, users)

    status, out, err = await orders_admin(database_url, "purge")

    assert (status, err) == (0, "")
    assert out == (
        "removed 1 outbox events, 1 processed events, 1 idempotency keys, 1 webhook order cursors\n"
    )
    await _assert_purged(clean_db, ids)
    again = await orders_admin(database_url, "purge")
    nothing = (
        "removed 0 outbox events, 0 processed events, 0 idempotency keys, 0 webhook order cursors"
    )
    assert again == (0, nothing + "\n", "")


async def test_the_worker_purges_on_its_schedule_and_counts_the_rows(
    client: httpx.AsyncClient,
    users: UserFactory,
    clean_db: AsyncEngine,
    processes: Processes,
) -> None:
    ids = await _old_and_new_rows(clean_db, client, users)
    port = free_port()

    worker = processes.worker(WORKER_METRICS_PORT=str(port))
    await processes.ready(worker)
    await worker.wait_for("retention: removed 1 outbox events", within=20)

    await _assert_purged(clean_db, ids)
    async with httpx.AsyncClient() as scraper:
        metrics = (await scraper.get(f"http://127.0.0.1:{port}/metrics")).text
    assert 'orders_retention_removed_total{kind="outbox_events"} 1.0' in metrics
    assert 'orders_retention_removed_total{kind="idempotency_keys"} 1.0' in metrics
    assert 'orders_retention_removed_total{kind="webhook_order_cursors"} 1.0' in metrics
