"""`order_status_counts`: the counts the triggers on `orders` keep, always equal to counting the
orders, and the search's count reading them only when they answer it exactly."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.orders.search import OrderFilter, Scope
from domain.orders.search_repository import count_statement, counted_by_status
from domain.orders.status import OrderStatus
from tests.conftest import ApiUser, StaffFactory, UserFactory, order_body
from tests.graph.conftest import graphql

COUNTED = """
query Counted($filter: OrderFilter) { searchOrders(filter: $filter, first: 1) { totalCount } }
"""

STATUSES = [status.value for status in OrderStatus]


async def _counted_orders(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT status, count(*) FROM orders GROUP BY status"))
        return {row[0]: row[1] for row in rows}


async def _kept_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT status, sum(count) FROM order_status_counts GROUP BY status"
                " HAVING sum(count) <> 0"
            )
        )
        return {status: int(count) for status, count in rows}


async def _searched(client: httpx.AsyncClient, member: ApiUser) -> dict[str, int]:
    """Each status's count as both interfaces answer it (asserted equal), zeros left out."""
    found = {}
    for status in STATUSES:
        rest = await client.get(
            "/orders/", params={"status": status, "count": "true"}, headers=member.headers
        )
        graph = await graphql(
            client, COUNTED, {"filter": {"status": [status]}}, headers=member.headers
        )
        assert rest.status_code == 200, rest.text
        total = int(rest.headers["X-Total-Count"])
        assert graph.ok()["searchOrders"]["totalCount"] == total
        if total:
            found[status] = total
    return found


async def _order(client: httpx.AsyncClient, owner: ApiUser) -> str:
    created = await client.post("/orders/", json=order_body(), headers=owner.headers)
    assert created.status_code == 201, created.text
    order_id: str = created.json()["id"]
    return order_id


async def _move(client: httpx.AsyncClient, member: ApiUser, order_id: str, status: str) -> None:
    moved = await client.patch(
        f"/orders/{order_id}/", json={"status": status}, headers=member.headers
    )
    assert moved.status_code == 200, moved.text


async def test_the_counts_follow_new_orders_status_changes_and_deletions(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory, db_engine: AsyncEngine
) -> None:
    alice, bob = await users.create(), await users.create()
    member = await staff.create()
    alices = [await _order(client, alice) for _ in range(4)]
    bobs = [await _order(client, bob) for _ in range(3)]
    for order_id in [alices[0], alices[1], bobs[0]]:
        await _move(client, member, order_id, "PAID")
    await _move(client, member, alices[0], "SHIPPED")
    await _move(client, member, bobs[1], "CANCELED")
    after_changes = await _counted_orders(db_engine)

    assert after_changes == {"PENDING": 3, "PAID": 2, "SHIPPED": 1, "CANCELED": 1}
    assert await _kept_counts(db_engine) == after_changes
    assert await _searched(client, member) == after_changes

    # A user deleted (their orders go by ON DELETE CASCADE), one order deleted, several moved at once.
    async with db_engine.begin() as connection:
        await connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": bob.id})
        await connection.execute(text("DELETE FROM orders WHERE id = :id"), {"id": alices[3]})
        await connection.execute(
            text("UPDATE orders SET status = 'CANCELED' WHERE status = 'PENDING'")
        )
    after_deletions = await _counted_orders(db_engine)

    assert after_deletions == {"PAID": 1, "SHIPPED": 1, "CANCELED": 1}
    assert await _kept_counts(db_engine) == after_deletions
    assert await _searched(client, member) == after_deletions


async def test_truncating_the_orders_empties_the_counts(
    client: httpx.AsyncClient, users: UserFactory, db_engine: AsyncEngine
) -> None:
    alice = await users.create()
    await _order(client, alice)

    async with db_engine.begin() as connection:
        await connection.execute(text("TRUNCATE users CASCADE"))

    assert await _kept_counts(db_engine) == {}


async def _write_orders(engine: AsyncEngine, user_id: int, rounds: int) -> None:
    """Each round, one transaction of three statements: a new order, another paid, a third
    canceled."""
    for _ in range(rounds):
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO orders (id, user_id, items, total_price, status, created_at,"
                    " updated_at, version) VALUES (:id, :user_id, '[]', 1, 'PENDING', now(),"
                    " now(), 1)"
                ),
                {"id": uuid.uuid4(), "user_id": user_id},
            )
            for old, new in (("PENDING", "PAID"), ("PENDING", "CANCELED")):
                await connection.execute(
                    text(
                        "UPDATE orders SET status = :new WHERE id = (SELECT id FROM orders"
                        " WHERE user_id = :user_id AND status = :old LIMIT 1)"
                    ),
                    {"new": new, "old": old, "user_id": user_id},
                )


async def test_concurrent_writers_keep_the_counts_exact(
    client: httpx.AsyncClient, users: UserFactory, db_engine: AsyncEngine
) -> None:
    writers = [await users.create() for _ in range(8)]
    for writer in writers:
        for _ in range(10):
            await _order(client, writer)

    # Eight transactions at a time, each holding its shard's rows until it commits: writers on the
    # same shard wait for each other, the others do not, and none is lost either way.
    await asyncio.gather(*(_write_orders(db_engine, writer.id, 15) for writer in writers))

    counted = await _counted_orders(db_engine)
    assert sum(counted.values()) == 8 * (10 + 15)
    assert await _kept_counts(db_engine) == counted


@pytest.mark.parametrize(
    ("wanted", "user_id", "by_status"),
    [
        ({}, None, True),
        ({"status": ["PAID"]}, None, True),
        ({"status": ["PAID", "SHIPPED"]}, None, True),
        ({"status": ["PAID"]}, 7, False),
        ({"status": ["PAID"], "created_from": "2026-12-01T00:00:00Z"}, None, False),
        ({"status": ["PAID"], "min_total": "1.00"}, None, False),
        ({"max_total": "1.00"}, None, False),
    ],
)
async def test_only_a_count_of_statuses_alone_reads_the_counts(
    db_engine: AsyncEngine, wanted: dict[str, object], user_id: int | None, by_status: bool
) -> None:
    scope = Scope(filter=OrderFilter.model_validate(wanted), user_id=user_id)
    async with db_engine.connect() as connection:
        # The statement as the app sends it: its SQL with the values bound, not written in.
        compiled = count_statement(scope=scope).compile(dialect=connection.dialect)
        values = tuple(compiled.params[name] for name in compiled.positiontup or ())
        explained = await connection.exec_driver_sql(f"EXPLAIN {compiled}", values)
        plan = "\n".join(row[0] for row in explained)

    assert counted_by_status(scope) is by_status
    assert (" on order_status_counts" in plan) is by_status
    assert (" on orders" in plan) is not by_status
