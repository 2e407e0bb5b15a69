"""The fan-out of a batch of order events: messages in any order and more than once give each event
one delivery per subscribed endpoint, once, with the trace of the event's own message."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.uow import UnitOfWork
from domain.webhooks import service
from domain.webhooks.fan_out import PublishedEvent, fan_out
from domain.webhooks.schemas import WebhookCreate, WebhookEvent
from infra.db import create_session_factory
from infra.settings import Environment, WebhookSettings
from tests.conftest import UserFactory, order_body

KEPT_FOR = timedelta(days=30)
TRACE = "00-{}-00f067aa0ba902b7-01"


async def test_a_batch_out_of_order_and_with_repeats_makes_each_delivery_once(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    sessions = create_session_factory(clean_db)
    async with UnitOfWork(sessions) as uow:
        for _ in range(2):
            await service.create_webhook(
                uow=uow,
                settings=WebhookSettings(allow_private_targets=True),
                environment=Environment.DEVELOPMENT,
                data=WebhookCreate(url="http://127.0.0.1:9/x", events=list(WebhookEvent)),
            )
    user = await users.create()
    first, second = [
        uuid.UUID(
            (await client.post("/orders/", json=order_body(), headers=user.headers)).json()["id"]
        )
        for _ in range(2)
    ]
    for status in ("PAID", "SHIPPED"):
        changed = await client.patch(
            f"/orders/{first}/", json={"status": status}, headers=user.headers
        )
        assert changed.status_code == 200, changed.text
    traces = {seq: TRACE.format(f"{seq:032x}") for seq in (1, 2, 3)}
    batch = [
        PublishedEvent(first, 3, traces[3]),
        PublishedEvent(second, 1, None),
        PublishedEvent(first, 1, traces[1]),
        PublishedEvent(first, 3, traces[3]),
    ]

    async with UnitOfWork(sessions) as uow:
        made = await fan_out(uow=uow, events=batch, cursors_kept_for=KEPT_FOR)
    async with UnitOfWork(sessions) as uow:
        again = await fan_out(
            uow=uow,
            events=[PublishedEvent(first, 2, traces[2]), *batch],
            cursors_kept_for=KEPT_FOR,
        )

    assert (made, again) == (2 * 4, 0)
    async with clean_db.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT order_id, seq, event_type, traceparent, payload FROM webhook_deliveries"
                    " ORDER BY endpoint_id, order_id = :second, seq"
                ),
                {"second": second},
            )
        ).all()
    per_endpoint = [(row.order_id, row.seq, row.event_type) for row in rows[:4]]
    assert per_endpoint == [
        (first, 1, "order.created"),
        (first, 2, "order.status_changed"),
        (first, 3, "order.status_changed"),
        (second, 1, "order.created"),
    ]
    assert [(row.order_id, row.seq) for row in rows[4:]] == [(r[0], r[1]) for r in per_endpoint]
    # Each event carries its own message's trace; seq 2 had none in the batch: the latest one's.
    assert [row.traceparent for row in rows[:3]] == [traces[1], traces[3], traces[3]]
    assert [row.payload["data"]["event"]["seq"] for row in rows[:3]] == [1, 2, 3]
