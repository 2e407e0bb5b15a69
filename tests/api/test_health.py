"""Liveness and readiness: only PostgreSQL makes the API unready; Redis or RabbitMQ away degrades it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from api.settings import ApiProcessSettings
from infra.settings import DatabaseSettings, RabbitMQSettings, RedisSettings
from relay.settings import OutboxSettings
from tests.support.app import running_app
from tests.support.rabbitmq import close_all_connections


async def _ready_until(
    client: httpx.AsyncClient, wanted: str, within: float = 15
) -> dict[str, Any]:
    """Poll /health/ready until its status is `wanted` (answers are reused for a second)."""
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = (await client.get("/health/ready")).json()
        if body["status"] == wanted or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.2)


def _with_relay(
    settings: ApiProcessSettings, rabbitmq_url: str, **rabbitmq: Any
) -> ApiProcessSettings:
    return settings.model_copy(
        update={
            "outbox": OutboxSettings(relay_enabled=True),
            "rabbitmq": RabbitMQSettings(url=rabbitmq_url, **rabbitmq),
        }
    )


async def test_live_answers_without_touching_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_is_ok_when_postgres_redis_and_the_relays_rabbitmq_connection_are_up(
    settings: ApiProcessSettings, clean_db: object, rabbitmq_url: str
) -> None:
    async with running_app(_with_relay(settings, rabbitmq_url)) as (client, _):
        body = await _ready_until(client, "ok")

    assert body == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok", "rabbitmq": "ok"}}


async def test_redis_and_rabbitmq_down_leave_the_api_ready_but_degraded(
    settings: ApiProcessSettings, clean_db: object
) -> None:
    broken = _with_relay(settings, "amqp://guest:guest@127.0.0.1:1/").model_copy(
        update={"redis": RedisSettings(url="redis://127.0.0.1:1/0")}
    )
    async with running_app(broken) as (client, _):
        response = await client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")
    assert body["checks"]["rabbitmq"].startswith("unavailable")


async def test_rabbitmq_is_the_state_of_the_relays_own_connection(
    settings: ApiProcessSettings, clean_db: object, rabbitmq_url: str
) -> None:
    """The probe opens no connection of its own: when the broker drops the relay's connection,
    readiness says so until the relay has reconnected (a fresh connection would have succeeded)."""
    slow_reconnect = _with_relay(settings, rabbitmq_url, reconnect_interval_seconds=5)
    async with running_app(slow_reconnect) as (client, _):
        assert (await _ready_until(client, "ok"))["status"] == "ok"
        await close_all_connections(rabbitmq_url)
        dropped = await _ready_until(client, "degraded")
        back = await _ready_until(client, "ok")

    assert dropped["checks"]["rabbitmq"] == "unavailable: not connected"
    assert back["checks"]["rabbitmq"] == "ok"


async def test_postgres_down_makes_the_api_unready_and_metrics_still_answer(
    settings: ApiProcessSettings,
) -> None:
    no_database = settings.model_copy(
        update={
            "database": DatabaseSettings(
                url="postgresql+asyncpg://postgres@127.0.0.1:1/orders", timeout_seconds=0.5
            )
        }
    )
    async with running_app(no_database) as (client, _):
        ready = await client.get("/health/ready")
        metrics = await client.get("/metrics")

    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["checks"]["postgres"].startswith("unavailable")
    assert metrics.status_code == 200
    assert "orders_http_requests_total" in metrics.text
