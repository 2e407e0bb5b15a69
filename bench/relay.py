"""8. The outbox relay alone: events/s from PostgreSQL to RabbitMQ, every publish confirmed.

BENCH_RELAY_EVENTS (20,000) `new_order` events are written straight into the outbox of the run's
database while no relay runs, then one relay (the API process's, run here in-process with its
default settings) publishes them to the run's vhost; the clock runs from its start to the last row
marked published. Nothing consumes meanwhile: the quorum queue keeps every message on disk, as it
would during a consumer outage.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from domain.orders.events import NEW_ORDER, NewOrderEvent
from infra.db import asyncpg_dsn, create_session_factory
from infra.settings import DatabaseSettings, RabbitMQSettings
from relay.relay import OutboxRelay
from relay.settings import OutboxSettings

EVENTS = int(os.environ.get("BENCH_RELAY_EVENTS", "20000"))


async def _fill_outbox(dsn: str, count: int) -> None:
    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        event = NewOrderEvent(
            event_id=uuid.uuid4(),
            order_id=uuid.uuid4(),
            user_id=1,
            total_price="9.99",
            created_at=now,
        )
        rows.append((event.event_id, NEW_ORDER, event.model_dump_json(), now))
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO outbox_events (id, event_type, payload, created_at)"
            " VALUES ($1, $2, $3::jsonb, $4)",
            rows,
        )
    finally:
        await connection.close()


async def _publish_all(database_url: str, rabbitmq_url: str, dsn: str) -> float:
    database = DatabaseSettings(url=database_url)
    engine = create_async_engine(database.url)
    relay = OutboxRelay(
        session_factory=create_session_factory(engine),
        listen_dsn=asyncpg_dsn(database),
        outbox=OutboxSettings(),
        rabbitmq=RabbitMQSettings(url=rabbitmq_url),
    )
    connection = await asyncpg.connect(dsn)
    try:
        started = time.monotonic()
        relay.start()
        deadline = started + 600
        query = "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"
        while await connection.fetchval(query) > 0:
            if time.monotonic() > deadline:
                raise SystemExit("the relay did not publish the outbox within 10 minutes")
            await asyncio.sleep(0.05)
        return time.monotonic() - started
    finally:
        await relay.stop()
        await connection.close()
        await engine.dispose()


def relay_scenario(database_url: str, rabbitmq_url: str, dsn: str) -> dict[str, object]:
    """Fills the outbox (nothing else may publish it meanwhile), then times one relay emptying it."""
    asyncio.run(_fill_outbox(dsn, EVENTS))
    seconds = asyncio.run(_publish_all(database_url, rabbitmq_url, dsn))
    return {
        f"8. outbox relay alone: {EVENTS:,} events published and confirmed in": (
            f"{seconds:.1f} s ({EVENTS / seconds:,.0f} events/s)"
        )
    }


async def empty_outbox(dsn: str) -> None:
    """The scenario's events go, so that the rest of the run counts only its own."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("TRUNCATE outbox_events")
    finally:
        await connection.close()
