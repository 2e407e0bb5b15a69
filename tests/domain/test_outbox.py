"""The outbox: the event is written with the order, and the relay publishes it once confirmed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from yarl import URL

from domain.events.models import OutboxEvent
from domain.events.repository import OutboxRepository, OutboxRow
from domain.orders import service
from domain.orders.schemas import OrderCreate
from domain.uow import UnitOfWork
from infra import amqp
from infra.db import asyncpg_dsn, utcnow
from infra.settings import DatabaseSettings, RabbitMQSettings
from relay.relay import OutboxRelay
from relay.settings import OutboxSettings, ReconcileSettings
from tests.conftest import UserFactory, order_body
from tests.support.pipeline import new_order_event, rabbitmq_url
from tests.support.polling import until
from tests.support.processes import free_port
from tests.support.tcp_proxy import TcpProxy

__all__ = ["rabbitmq_url"]


async def test_creating_an_order_writes_its_new_order_event_in_the_same_transaction(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    response = await client.post(
        "/orders/", json=order_body(), headers={**user.headers, "X-Request-ID": "req-outbox-1"}
    )
    assert response.status_code == 201
    order = response.json()

    async with clean_db.connect() as connection:
        rows = (
            await connection.execute(
                select(OutboxEvent)
                .where(OutboxEvent.payload["order_id"].astext == order["id"])
                .order_by(OutboxEvent.event_type)
            )
        ).all()
    # The new_order event for the worker, and the order's first history event for webhooks.
    assert [row.event_type for row in rows] == ["new_order", "order.created"]
    assert rows[1].payload == {"order_id": order["id"], "seq": 1, "correlation_id": "req-outbox-1"}
    row = rows[0]
    assert row.published_at is None
    assert row.payload == {
        "event_id": str(row.id),
        "event": "new_order",
        "order_id": order["id"],
        "user_id": user.id,
        "total_price": "17.00",
        "created_at": row.payload["created_at"],
        "correlation_id": "req-outbox-1",
    }
    assert row.payload["created_at"].startswith(order["created_at"][:19])


async def test_an_order_rolled_back_leaves_no_event(
    users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    sessions = async_sessionmaker(clean_db, expire_on_commit=False)

    async def create_then_fail() -> None:
        async with UnitOfWork(sessions) as uow:
            await service.create_order(
                uow=uow, cache=None, user_id=user.id, data=OrderCreate.model_validate(order_body())
            )
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await create_then_fail()

    async with clean_db.connect() as connection:
        counts = await connection.execute(
            text(
                "SELECT (SELECT count(*) FROM orders WHERE user_id = :user),"
                " (SELECT count(*) FROM outbox_events WHERE (payload->>'user_id')::int = :user)"
            ),
            {"user": user.id},
        )
        assert tuple(counts.one()) == (0, 0)


# --- the relay, against the run's RabbitMQ vhost ---------------------------------------------------


@pytest.fixture
async def sessions(clean_db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(clean_db, expire_on_commit=False)


@pytest.fixture
async def amqp_channel(rabbitmq_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        await amqp.declare_topology(channel, RabbitMQSettings(url=rabbitmq_url))
        yield channel


async def add_pending(
    sessions: async_sessionmaker[AsyncSession], count: int, event_type: str
) -> list[uuid.UUID]:
    ids = []
    async with sessions() as session, session.begin():
        for _ in range(count):
            event = new_order_event()
            await OutboxRepository(session).add(
                OutboxRow(
                    id=event.event_id,
                    event_type=event_type,
                    payload=event.model_dump(mode="json"),
                    created_at=utcnow(),
                )
            )
            ids.append(event.event_id)
    return ids


async def take_messages(
    channel: aio_pika.abc.AbstractChannel, wanted: set[str], *, within: float = 10
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Messages of the new_order queue with the wanted ids (others are acknowledged and dropped)."""
    queue = await channel.get_queue(amqp.NEW_ORDER_QUEUE)
    found: list[aio_pika.abc.AbstractIncomingMessage] = []
    deadline = time.monotonic() + within
    while {m.message_id for m in found} < wanted or len(found) < len(wanted):
        assert time.monotonic() < deadline, f"got {len(found)} of {len(wanted)} messages"
        message = await queue.get(fail=False, timeout=5)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        await message.ack()
        if message.message_id in wanted:
            found.append(message)
    return found


def relay(
    sessions: async_sessionmaker[AsyncSession], database_url: str, rabbitmq_url: str
) -> OutboxRelay:
    return OutboxRelay(
        session_factory=sessions,
        listen_dsn=asyncpg_dsn(DatabaseSettings(url=database_url)),
        outbox=OutboxSettings(sweep_interval_seconds=0.2, publish_timeout_seconds=2),
        rabbitmq=RabbitMQSettings(url=rabbitmq_url),
    )


async def wait_published(sessions: async_sessionmaker[AsyncSession], ids: list[uuid.UUID]) -> None:
    deadline = time.monotonic() + 10
    while True:
        async with sessions() as session:
            pending = await session.scalar(
                select(text("count(*)"))
                .select_from(OutboxEvent)
                .where(OutboxEvent.id.in_(ids), OutboxEvent.published_at.is_(None))
            )
        if pending == 0:
            return
        assert time.monotonic() < deadline, f"{pending} events still pending"
        await asyncio.sleep(0.05)


async def test_relay_publishes_persistent_confirmed_messages_and_marks_them(
    sessions: async_sessionmaker[AsyncSession],
    amqp_channel: aio_pika.abc.AbstractChannel,
    database_url: str,
    rabbitmq_url: str,
) -> None:
    running = relay(sessions, database_url, rabbitmq_url)
    running.start()
    try:
        ids = await add_pending(sessions, 3, "new_order")  # the commit's NOTIFY wakes the relay
        await wait_published(sessions, ids)
    finally:
        await running.stop()

    messages = await take_messages(amqp_channel, {str(i) for i in ids})
    for message in messages:
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.content_type == "application/json"
        assert message.type == "new_order"
        body = message.body.decode()
        assert f'"event_id":"{message.message_id}"' in body


async def test_unroutable_event_stays_pending_instead_of_vanishing(
    sessions: async_sessionmaker[AsyncSession], database_url: str, rabbitmq_url: str
) -> None:
    ids = await add_pending(sessions, 1, "no_queue_binds_this")
    running = relay(sessions, database_url, rabbitmq_url)
    running.start()
    try:
        published = await add_pending(sessions, 1, "new_order")
        await wait_published(sessions, published)  # a later event got through meanwhile
    finally:
        await running.stop()

    async with sessions() as session:
        row = await session.get(OutboxEvent, ids[0])
        assert row is not None
        assert row.published_at is None


async def test_two_relays_publish_each_event_exactly_once(
    sessions: async_sessionmaker[AsyncSession],
    amqp_channel: aio_pika.abc.AbstractChannel,
    database_url: str,
    rabbitmq_url: str,
) -> None:
    ids = await add_pending(sessions, 300, "new_order")
    relays = [relay(sessions, database_url, rabbitmq_url) for _ in range(2)]
    for running in relays:
        running.start()
    try:
        await wait_published(sessions, ids)
    finally:
        await asyncio.gather(*(running.stop() for running in relays))

    messages = await take_messages(amqp_channel, {str(i) for i in ids})
    assert len(messages) == 300
    queue = await amqp_channel.get_queue(amqp.NEW_ORDER_QUEUE)
    extra = await queue.get(fail=False, timeout=5)
    assert extra is None or extra.message_id not in {str(i) for i in ids}


async def test_the_relay_outlives_a_reconciliation_that_cannot_reach_the_database(
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    rabbitmq_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failover's first moments: connecting fails with a bare OSError (refused here, an unknown
    host name in Docker), which SQLAlchemy does not wrap. The reconciler meets it, then the database
    is back: the relay is still there to publish."""
    proxy = TcpProxy("127.0.0.1", URL(database_url).port or 5432)
    proxy.port = free_port()  # nothing listens there until the proxy starts
    engine = create_async_engine(str(URL(database_url).with_port(proxy.port)))
    running = OutboxRelay(
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        listen_dsn=asyncpg_dsn(DatabaseSettings(url=database_url)),
        outbox=OutboxSettings(sweep_interval_seconds=0.2, publish_timeout_seconds=2),
        rabbitmq=RabbitMQSettings(url=rabbitmq_url),
        # Due after every pass.
        reconcile=ReconcileSettings(processing_deadline_seconds=0.01),
    )
    running.start()
    try:
        await until(
            lambda: _true("reconciliation failed" in caplog.text),
            within=10,
            what="a reconciliation without the database",
        )
        await proxy.start()
        ids = await add_pending(sessions, 1, "new_order")
        await wait_published(sessions, ids)
    finally:
        await running.stop()
        await proxy.stop()
        await engine.dispose()


async def _true(value: bool) -> bool:
    return value
