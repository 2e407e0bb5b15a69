"""Orders written straight into the run's database (not through the API): the data scenarios read."""

from __future__ import annotations

import asyncpg

from bench.scenarios import COSTLY_ITEMS
from domain.orders.pagination import encode_cursor


async def seed_orders(dsn: str, user_id: int, count: int) -> None:
    """Bulk orders for one user, spread one second apart, newest last (bench data, not app code)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            """
            INSERT INTO orders (id, user_id, items, total_price, status, created_at, updated_at, version)
            SELECT gen_random_uuid(), $1,
                   '[{"product_id": "sku-1", "name": "Mug", "quantity": 2, "price": "5.50"}]'::jsonb,
                   11.00, 'PENDING', ts, ts, 1
            FROM (SELECT now() - make_interval(secs => $2 - g) AS ts FROM generate_series(1, $2) g) s
            """,
            user_id,
            count,
        )
        # Their history starts as the API's does: CREATED, seq 1. Bench data, not events: with
        # triggers off, no outbox row per seeded event (the relay would publish them all for the
        # webhooks queue while the scenarios run).
        async with connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.execute(
                """
                INSERT INTO order_events (order_id, seq, kind, status, at)
                SELECT id, 1, 'CREATED', 'PENDING', created_at FROM orders o
                WHERE user_id = $1
                  AND NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.id)
                """,
                user_id,
            )
    finally:
        await connection.close()


async def order_ids(dsn: str, user_id: int, limit: int) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
            user_id,
            limit,
        )
    finally:
        await connection.close()
    return [str(row["id"]) for row in rows]


async def cursor_at(dsn: str, user_id: int, offset: int) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            "SELECT created_at, id FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            user_id,
            offset,
        )
    finally:
        await connection.close()
    assert row is not None
    return encode_cursor((row["created_at"], row["id"]))


async def seed_costly_orders(dsn: str, user_id: int, count: int) -> None:
    """Orders of `COSTLY_ITEMS` items each, so the costly document reads every item it may."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            """
            INSERT INTO orders (id, user_id, items, total_price, status, created_at, updated_at, version)
            SELECT gen_random_uuid(), $1,
                   (SELECT jsonb_agg(jsonb_build_object('product_id', 'sku-' || i, 'name', 'Item ' || i,
                                                        'quantity', 1, 'price', '1.00'))
                    FROM generate_series(1, $3) i),
                   $3, 'PENDING', now(), now(), 1
            FROM generate_series(1, $2)
            """,
            user_id,
            count,
            COSTLY_ITEMS,
        )
    finally:
        await connection.close()
