"""Retention of the delivery log: succeeded deliveries past WEBHOOK_LOG_RETENTION_DAYS go, the rest stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.uow import UnitOfWork
from domain.webhooks import deliveries, service
from domain.webhooks.schemas import WebhookCreate, WebhookEvent
from infra.db import create_session_factory, utcnow
from infra.settings import Environment, WebhookSettings
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
        await deliveries.fan_out(
            uow=uow,
            events=[deliveries.PublishedEvent(order_id, 1) for order_id in order_ids],
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
