"""Fixtures of the webhook tests: the pipeline's servers, a dispatcher process, local receivers."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.uow import UnitOfWork
from domain.webhooks import service
from domain.webhooks.schemas import CreatedWebhook, WebhookCreate, WebhookEvent
from infra.db import create_session_factory
from infra.settings import Environment, WebhookSettings
from tests.support.pipeline import pipeline_env, pipeline_settings, rabbitmq_url
from tests.support.processes import ManagedProcess, Processes
from tests.support.receiver import Receiver, Responder

__all__ = ["pipeline_env", "pipeline_settings", "processes", "rabbitmq_url"]

ALL_EVENTS = list(WebhookEvent)


@pytest.fixture
async def webhook_db(db_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The run's database, emptied of webhooks and orders after the test."""
    yield db_engine
    async with db_engine.begin() as connection:
        await connection.execute(
            text(
                "TRUNCATE users, orders, outbox_events, processed_events, webhook_endpoints,"
                " webhook_order_cursors RESTART IDENTITY CASCADE"
            )
        )


@pytest.fixture
async def processes(
    pipeline_env: dict[str, str], webhook_db: AsyncEngine
) -> AsyncIterator[Processes]:
    """The pipeline's `processes`, stopped before the database is emptied (a running dispatcher
    holds locks the TRUNCATE would deadlock with)."""
    started = Processes(pipeline_env)
    try:
        yield started
    finally:
        await started.stop_all()


def unit_of_work(engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(create_session_factory(engine))


CreateEndpoint = Callable[..., Awaitable[CreatedWebhook]]


@pytest.fixture
def create_endpoint(webhook_db: AsyncEngine) -> CreateEndpoint:
    async def create(url: str, events: list[WebhookEvent] | None = None) -> CreatedWebhook:
        async with unit_of_work(webhook_db) as uow:
            return await service.create_webhook(
                uow=uow,
                settings=WebhookSettings(allow_private_targets=True),
                environment=Environment.DEVELOPMENT,
                data=WebhookCreate(url=url, events=events or ALL_EVENTS),
            )

    return create


@pytest.fixture
async def receivers() -> AsyncIterator[Callable[..., Awaitable[Receiver]]]:
    started: list[Receiver] = []

    async def start(
        respond: Responder | None = None, tls: ssl.SSLContext | None = None
    ) -> Receiver:
        receiver = Receiver(respond, tls)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        await receiver.stop()


def dispatcher(processes: Processes, name: str = "webhooks", **overrides: str) -> ManagedProcess:
    env = {
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_RETRY_SCHEDULE": "0.2s,0.2s,0.2s",
        "WEBHOOK_TIMEOUT_SECONDS": "3",
        "WEBHOOK_DISPATCHER_POLL_INTERVAL_SECONDS": "0.1",
        **overrides,
    }
    return processes.start(name, ["-m", "dispatcher"], "consuming webhooks", **env)


async def delivery_rows(engine: AsyncEngine, webhook_id: uuid.UUID) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT id, seq, event_type, status, attempts, tries FROM webhook_deliveries"
                " WHERE endpoint_id = :id ORDER BY order_id, seq"
            ),
            {"id": webhook_id},
        )
        return [dict(row._mapping) for row in result]


async def customer(base_url: str) -> dict[str, str]:
    """A new customer's Authorization header."""
    email = f"hooks-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        registered = await client.post(
            "/register/", json={"email": email, "password": "Webhook-tests-pass-8372!"}
        )
        assert registered.status_code == 201, registered.text
        token = await client.post(
            "/token", data={"username": email, "password": "Webhook-tests-pass-8372!"}
        )
        return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def new_order(base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        response = await client.post(
            "/orders/",
            json={"items": [{"product_id": "sku-1", "quantity": 2, "price": "8.50"}]},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


async def set_status(base_url: str, headers: dict[str, str], order_id: str, status: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        response = await client.patch(
            f"/orders/{order_id}/", json={"status": status}, headers=headers
        )
        assert response.status_code == 200, response.text
