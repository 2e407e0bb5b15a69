"""Retention of webhooks' bookkeeping: succeeded deliveries past WEBHOOK_LOG_RETENTION_DAYS go, the rest
stay; fan-out cursors of idle orders go, and nothing is fanned out twice for it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.retention import RetentionAges, purge
from domain.uow import UnitOfWork
from domain.webhooks import deliveries, service
from domain.webhooks.fan_out import PublishedEvent, fan_out
from domain.webhooks.schemas import WebhookCreate, WebhookEvent
from infra.db import create_session_factory, utcnow
from infra.settings import Environment, RetentionSettings, WebhookSettings
from tests.conftest import UserFactory, order_body


async def test_only_succeeded_deliveries_older_than_the_retention_are_purged(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    sessions = create_session_factory(clean_db)
    async with UnitOfWork(sessions) as uow:
        await service.create_webhook(
            uow=uow,
            settings=WebhookSettings(allow_private_targets=True),
            environment=Environment.DEVELOPMENT,
            data=WebhookCreate(url="http://127.0.0.1:9/x", events=[WebhookEvent.ORDER_CREATED]),
        )
    user = await users.create()
    order_ids = []
    for _ in range(4):
        made = await client.post("/orders/", json=order_body(), headers=user.headers)
        order_ids.append(uuid.UUID(made.json()["id"]))
    async with UnitOfWork(sessions) as uow:
        await fan_out(
            uow=uow,
            events=[PublishedEvent(order_id, 1) for order_id in order_ids],
            cursors_kept_for=timedelta(days=30),
        )
    old_succeeded, new_succeeded, old_failed, pending = order_ids
    async with clean_db.begin() as connection:
        for order_id, status, age in (
            (old_succeeded, "succeeded", timedelta(days=31)),
            (new_succeeded, "succeeded", timedelta(days=29)),
            (old_failed, "failed", timedelta(days=90)),
        ):
            await connection.execute(
                text(
                    "UPDATE webhook_deliveries SET status = :status,"
                    " finished_at = :at WHERE order_id = :id"
                ),
                {"status": status, "at": utcnow() - age, "id": order_id},
            )

    async with UnitOfWork(sessions) as uow:
        purged = await deliveries.purge_succeeded(
            uow=uow, settings=WebhookSettings(log_retention_days=30), limit=100
        )

    assert purged == 1
    async with clean_db.connect() as connection:
        left = {
            row.order_id
            for row in await connection.execute(text("SELECT order_id FROM webhook_deliveries"))
        }
    assert left == {new_succeeded, old_failed, pending}


CURSORS_KEPT_FOR = timedelta(days=30)


async def _fan_out(
    sessions: async_sessionmaker[AsyncSession], order_id: uuid.UUID, seq: int
) -> int:
    async with UnitOfWork(sessions) as uow:
        return await fan_out(
            uow=uow,
            events=[PublishedEvent(order_id, seq)],
            cursors_kept_for=CURSORS_KEPT_FOR,
        )


async def test_idle_fan_out_cursors_are_purged_and_a_later_event_sends_only_itself(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    """A cursor goes once its order has nothing pending and no event for the retention's age; the
    order's next event recreates it past the old events, which are not sent again."""
    sessions = create_session_factory(clean_db)
    async with UnitOfWork(sessions) as uow:
        webhook = await service.create_webhook(
            uow=uow,
            settings=WebhookSettings(allow_private_targets=True),
            environment=Environment.DEVELOPMENT,
            data=WebhookCreate(url="http://127.0.0.1:9/x", events=list(WebhookEvent)),
        )
    user = await users.create()
    idle, recent, waiting = [
        uuid.UUID(
            (await client.post("/orders/", json=order_body(), headers=user.headers)).json()["id"]
        )
        for _ in range(3)
    ]
    for order_id in (idle, recent, waiting):
        assert await _fan_out(sessions, order_id, 1) == 1
    long_ago = utcnow() - timedelta(days=40)
    async with clean_db.begin() as connection:
        # The endpoint and two orders' histories predate the retention's age; the idle order's
        # delivery succeeded, the waiting order's is still pending.
        await connection.execute(
            text("UPDATE webhook_endpoints SET created_at = :at"), {"at": long_ago}
        )
        await connection.execute(
            text("UPDATE order_events SET at = :at WHERE order_id IN (:idle, :waiting)"),
            {"at": long_ago, "idle": idle, "waiting": waiting},
        )
        await connection.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'succeeded', finished_at = :at"
                " WHERE order_id IN (:idle, :recent)"
            ),
            {"at": long_ago, "idle": idle, "recent": recent},
        )
        # And the log's retention has deleted the idle order's delivery since.
        await connection.execute(
            text("DELETE FROM webhook_deliveries WHERE order_id = :id"), {"id": idle}
        )

    removed = await purge(
        new_unit_of_work=lambda: UnitOfWork(sessions),
        ages=RetentionAges.from_settings(RetentionSettings()),
        now=utcnow(),
    )

    assert removed["webhook_order_cursors"] == 1
    async with clean_db.connect() as connection:
        left = {
            row.order_id
            for row in await connection.execute(text("SELECT order_id FROM webhook_order_cursors"))
        }
    assert left == {recent, waiting}
    # The idle order changes again: only that new event (seq 2) becomes a delivery.
    paid = await client.patch(f"/orders/{idle}/", json={"status": "PAID"}, headers=user.headers)
    assert paid.status_code == 200, paid.text
    assert await _fan_out(sessions, idle, 2) == 1
    async with clean_db.connect() as connection:
        seqs = [
            row.seq
            for row in await connection.execute(
                text(
                    "SELECT seq FROM webhook_deliveries WHERE order_id = :id AND endpoint_id = :e"
                ),
                {"id": idle, "e": webhook.id},
            )
        ]
    assert seqs == [2]
