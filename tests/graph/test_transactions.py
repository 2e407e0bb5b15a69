"""One transaction per mutation: committed when the domain service succeeds, rolled back otherwise."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.orders import history
from edge.resources import Resources
from tests.conftest import UserFactory
from tests.graph.conftest import CREATE_ORDER, graphql, order_input


async def _orders_of(engine: AsyncEngine, user_id: int) -> int:
    """How many orders `user_id` has (rows other tests left behind do not count)."""
    async with engine.connect() as connection:
        count = text("SELECT count(*) FROM orders WHERE user_id = :user_id")
        return int(await connection.scalar(count, {"user_id": user_id}) or 0)


async def _outbox_rows(engine: AsyncEngine, order_id: uuid.UUID) -> int:
    async with engine.connect() as connection:
        count = text("SELECT count(*) FROM outbox_events WHERE payload->>'order_id' = :order_id")
        return int(await connection.scalar(count, {"order_id": str(order_id)}) or 0)


async def test_a_mutation_failing_after_its_first_write_leaves_nothing_behind(
    client: httpx.AsyncClient,
    users: UserFactory,
    app_state: Resources,
    clean_db: AsyncEngine,
    redis_client: Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await users.create()
    written: list[uuid.UUID] = []

    def fail_after_the_order_row(*, uow: Any, user_id: int, event: Any) -> None:
        # The order, its outbox event and its history are written (inside the transaction) by now.
        written.append(event.order_id)
        msg = "broker exploded: INSERT INTO outbox_events VALUES (secret)"
        raise RuntimeError(msg)

    monkeypatch.setattr(history, "live_message", fail_after_the_order_row)

    with caplog.at_level(logging.ERROR, logger="graph.errors"):
        result = await graphql(client, CREATE_ORDER, {"input": order_input()}, headers=user.headers)

    assert written, "the service ran up to its second write"
    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    assert result.errors[0]["message"] == "Internal server error"
    assert "secret" not in result.http.text
    assert "Traceback" not in result.http.text
    assert "broker exploded" in caplog.text  # logged for us, with its traceback
    assert await _orders_of(clean_db, user.id) == 0
    assert await _outbox_rows(clean_db, written[0]) == 0
    assert app_state.order_cache is not None
    assert not await redis_client.exists(app_state.order_cache.key(written[0]))


async def test_each_mutation_of_a_document_commits_on_its_own(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    document = """
    mutation($good: CreateOrderInput!, $bad: CreateOrderInput!) {
      good: createOrder(input: $good) { id }
      bad: createOrder(input: $bad) { id }
    }
    """
    bad: dict[str, Any] = {"items": [{"productId": "a", "quantity": 0, "price": "1.00"}]}

    result = await graphql(
        client, document, {"good": order_input(), "bad": bad}, headers=user.headers
    )

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["path"] == ["bad"]
    # The field is non-null, so the error nulls the whole data; the first mutation still committed.
    assert result.data is None
    assert await _orders_of(clean_db, user.id) == 1
    # One new_order event, the good one's (each history entry has an outbox row of its own too).
    async with clean_db.connect() as connection:
        new_order_events = await connection.scalar(
            text(
                "SELECT count(*) FROM outbox_events WHERE event_type = 'new_order'"
                " AND payload->>'order_id' IN (SELECT id::text FROM orders WHERE user_id = :user)"
            ),
            {"user": user.id},
        )
    assert new_order_events == 1


async def test_a_forbidden_status_move_changes_nothing(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    created = (
        await graphql(client, CREATE_ORDER, {"input": order_input()}, headers=user.headers)
    ).ok()
    order_id = created["createOrder"]["id"]
    move = "mutation($id: UUID!, $s: OrderStatus!) { updateOrderStatus(id: $id, status: $s) { status } }"
    await graphql(client, move, {"id": order_id, "s": "CANCELED"}, headers=user.headers)

    refused = await graphql(client, move, {"id": order_id, "s": "PAID"}, headers=user.headers)

    assert refused.codes == ["CONFLICT"]
    async with clean_db.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT status, version FROM orders WHERE id = :id"), {"id": order_id}
            )
        ).one()
    assert (row.status, row.version) == ("CANCELED", 2)
