"""Fixtures and helpers of the event-pipeline tests (tests/consumer, tests/worker, tests/e2e).

Isolation: one RabbitMQ vhost per run; one Redis stream per test (under the run's key prefix, deleted
with it); the run's PostgreSQL database. Each subdirectory's conftest re-exports the fixtures.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from taskiq.kicker import AsyncKicker

from domain.orders.events import PROCESS_NEW_ORDER_TASK, NewOrderEvent
from infra import amqp
from infra.db import utcnow
from infra.settings import (
    DatabaseSettings,
    RabbitMQSettings,
    RedisSettings,
    Settings,
    TaskQueueSettings,
)
from infra.taskq import create_broker
from tests.support.processes import Processes
from tests.support.rabbitmq import create_vhost, delete_vhost

BASE_RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
BASE_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Short, so that a killed worker's task is taken over within the tests' deadlines.
RECLAIM_IDLE_SECONDS = 2


@pytest.fixture(scope="session")
async def rabbitmq_url() -> AsyncIterator[str]:
    url = await create_vhost(BASE_RABBITMQ_URL)
    yield url
    await delete_vhost(url)


def app_env(*, database_url: str, key_dir: Path, redis_prefix: str) -> dict[str, str]:
    """What every app process a test starts needs: this run's database, Redis prefix and keys,
    rate limits off (tests count nothing), readable logs."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": BASE_REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "JWT_PRIVATE_KEY_PATH": str(key_dir / "jwt-private.pem"),
        "JWT_PUBLIC_KEY_PATH": str(key_dir / "jwt-public.pem"),
        "RATE_LIMIT_ENABLED": "false",
        "LOG_FORMAT": "text",
    }


@pytest.fixture
def pipeline_env(
    database_url: str, key_dir: Path, redis_prefix: str, rabbitmq_url: str
) -> dict[str, str]:
    """The environment of every process a test starts: this run's servers, this test's stream."""
    return {
        **app_env(database_url=database_url, key_dir=key_dir, redis_prefix=redis_prefix),
        "RABBITMQ_URL": rabbitmq_url,
        "TASKIQ_STREAM": f"{redis_prefix}tasks-{uuid.uuid4().hex[:8]}",
        "TASKIQ_RECLAIM_IDLE_SECONDS": str(RECLAIM_IDLE_SECONDS),
        "CONSUMER_SHUTDOWN_GRACE_SECONDS": "2",
        "OUTBOX_RELAY_ENABLED": "true",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def pipeline_settings(pipeline_env: dict[str, str]) -> Settings:
    """The same servers and stream, for what the test itself does (publish, enqueue, inspect)."""
    return Settings(
        database=DatabaseSettings(url=pipeline_env["DATABASE_URL"]),
        redis=RedisSettings(
            url=pipeline_env["REDIS_URL"], key_prefix=pipeline_env["REDIS_KEY_PREFIX"]
        ),
        rabbitmq=RabbitMQSettings(url=pipeline_env["RABBITMQ_URL"]),
        taskiq=TaskQueueSettings(
            stream=pipeline_env["TASKIQ_STREAM"], reclaim_idle_seconds=RECLAIM_IDLE_SECONDS
        ),
    )


@pytest.fixture
async def processes(pipeline_env: dict[str, str]) -> AsyncIterator[Processes]:
    started = Processes(pipeline_env)
    try:
        yield started
    finally:
        await started.stop_all()


def new_order_event(correlation_id: str | None = None) -> NewOrderEvent:
    return NewOrderEvent(
        event_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        user_id=1,
        total_price=Decimal("17.00"),
        created_at=utcnow(),
        correlation_id=correlation_id or f"test-{uuid.uuid4().hex[:8]}",
    )


async def enqueue(settings: Settings, *events: NewOrderEvent) -> None:
    """Put tasks on the stream the way the consumer does."""
    broker = create_broker(redis=settings.redis, settings=settings.taskiq)
    await broker.startup()
    try:
        for event in events:
            kicker: AsyncKicker[..., None] = AsyncKicker(
                task_name=PROCESS_NEW_ORDER_TASK,
                broker=broker,
                labels={"correlation_id": event.correlation_id or ""},
            )
            await kicker.kiq(event.model_dump(mode="json"))
    finally:
        await broker.shutdown()


async def publish(settings: Settings, *bodies: tuple[str, bytes]) -> None:
    """Publish raw (message_id, body) messages to the new_order queue, as the relay would."""
    connection = await aio_pika.connect(settings.rabbitmq.url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        topology = await amqp.declare_topology(channel, settings.rabbitmq)
        for message_id, body in bodies:
            await topology.exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    content_type="application/json",
                ),
                routing_key=amqp.NEW_ORDER_ROUTING_KEY,
                mandatory=True,
                timeout=5,
            )


async def create_orders(
    base_url: str,
    count: int,
    *,
    concurrency: int | None = None,
    headers: dict[str, str] | None = None,
    password: str = "pw-s3cret-9412",
) -> list[tuple[str, str]]:
    """`count` orders of a new user, created concurrently over HTTP: [(order id, request id)].

    At most `concurrency` requests are in flight at once (all of them when None); `headers` go with
    each POST (a `traceparent`, say).
    """
    email = f"pipeline-{uuid.uuid4().hex[:8]}@example.com"
    in_flight = asyncio.Semaphore(concurrency or count or 1)
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        registered = await client.post("/register/", json={"email": email, "password": password})
        assert registered.status_code == 201, registered.text
        token = await client.post("/token", data={"username": email, "password": password})
        assert token.status_code == 200, token.text
        authorization = {
            **(headers or {}),
            "Authorization": f"Bearer {token.json()['access_token']}",
        }

        async def one() -> tuple[str, str]:
            request_id = f"req-{uuid.uuid4().hex[:12]}"
            async with in_flight:
                response = await client.post(
                    "/orders/",
                    json={"items": [{"product_id": "sku-1", "quantity": 2, "price": "8.50"}]},
                    headers={**authorization, "X-Request-ID": request_id},
                )
            assert response.status_code == 201, response.text
            return response.json()["id"], request_id

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def processed_count(db_engine: AsyncEngine, event_ids: list[uuid.UUID]) -> int:
    async with db_engine.connect() as connection:
        result = await connection.execute(
            text("SELECT count(*) FROM processed_events WHERE event_id = ANY(:ids)"),
            {"ids": event_ids},
        )
        return int(result.scalar_one())


async def enqueued_event_ids(settings: Settings) -> set[str]:
    """The event ids of the tasks waiting on this test's stream."""
    client = Redis.from_url(settings.redis.url)
    try:
        entries: Any = await client.xrange(settings.taskiq.stream)
    finally:
        await client.aclose()
    ids: set[str] = set()
    for _entry_id, fields in entries:
        message = json.loads(fields[b"data"])
        ids.add(message["args"][0]["event_id"])
    return ids


async def wait_until_enqueued(settings: Settings, event_ids: set[str], *, within: float) -> None:
    deadline = time.monotonic() + within
    while not event_ids <= (found := await enqueued_event_ids(settings)):
        if time.monotonic() > deadline:
            msg = f"never enqueued: {sorted(event_ids - found)}"
            raise AssertionError(msg)
        await asyncio.sleep(0.05)
