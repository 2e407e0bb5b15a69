"""The outbox relay: committed outbox rows → RabbitMQ, each marked published only once confirmed.

Runs as a background task of the API process (started and stopped by its lifespan). It wakes:
- right after a commit that inserted outbox rows: a trigger NOTIFYs `outbox_events`, which PostgreSQL
  delivers on commit to every listening process, on a dedicated connection;
- every `sweep_interval_seconds` anyway, which catches whatever a NOTIFY missed (relay restarting,
  listening connection lost, broker down at the time).
Each pass locks a batch of pending rows with SKIP LOCKED, publishes them (persistent, mandatory,
confirmed, with a timeout), and marks the confirmed ones published in the same transaction. Several
API processes each run a relay; they share the backlog and never publish a row at the same time.
Delivery is at least once (a crash between the confirm and the commit republishes): consumers
deduplicate by `message_id`, which is the event id.

Tracing: a pass that found events is one span (`outbox relay pass`); each event is published in a
span of its own (`outbox publish`) that continues the trace of the request that wrote it (its stored
`traceparent`) and links to the pass. Passes that find nothing leave no trace (their claim query is
not traced): the relay sweeps every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from aio_pika.exceptions import PublishError
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.events.models import OutboxEvent
from domain.events.repository import OutboxRepository
from domain.orders.events import NEW_ORDER
from infra import amqp
from infra.db import asyncpg_dsn, utcnow
from infra.metrics import EVENTS_PUBLISHED, EVENTS_REPUBLISHED
from infra.retry import Outage, pause
from infra.settings import DatabaseSettings, RabbitMQSettings
from infra.tracing import context_from_traceparent
from relay.settings import OutboxSettings, ReconcileSettings
from relay.wakeups import listen_for_commits

logger = logging.getLogger(__name__)

tracer = trace.get_tracer(__name__)


class OutboxRelay:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        listen_dsn: str,
        outbox: OutboxSettings,
        rabbitmq: RabbitMQSettings,
        reconcile: ReconcileSettings | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._reconcile = reconcile or ReconcileSettings()
        self._last_reconcile = time.monotonic()
        self._listen_dsn = listen_dsn
        self._outbox = outbox
        self._rabbitmq = rabbitmq
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # One warning per outage, not one per second: the sweep retries on its own.
        self._outage = Outage(
            logger,
            failing="outbox: publishing paused, events stay pending",
            recovered="outbox: publishing resumed",
        )
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None

    @property
    def connected(self) -> bool:
        """Connected to RabbitMQ, topology declared, last publish not failing. No I/O: read by the
        readiness probe, which must not open a connection of its own on every call."""
        connection = self._connection
        return (
            connection is not None and connection.connected.is_set() and not self._outage.failures
        )

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._relay(), name="outbox-relay"),
            asyncio.create_task(
                listen_for_commits(self._listen_dsn, wake=self._wake, stopping=self._stopping),
                name="outbox-listen",
            ),
        ]

    async def stop(self) -> None:
        """Finish the pass in progress (bounded by the publish timeout), then close everything."""
        self._stopping.set()
        self._wake.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(
            self._tasks, timeout=self._outbox.publish_timeout_seconds + 1
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # --- publishing -------------------------------------------------------------------------------

    async def _relay(self) -> None:
        connection = await amqp.connect(self._rabbitmq, stopping=self._stopping)
        if connection is None:
            return
        try:
            exchange = await self._declare(connection)
            if exchange is not None:
                logger.info("outbox: relay connected to RabbitMQ")
            self._connection = connection
            while exchange is not None and not self._stopping.is_set():
                await self._wait_for_work()
                try:
                    await self._publish_pending(exchange)
                    self._outage.recovered()
                except Exception as exc:  # any failure only delays the events: keep going
                    self._outage.failed(exc)
                    await pause(self._rabbitmq.reconnect_interval_seconds, self._stopping)
                    if not isinstance(exc, SQLAlchemyError | PublishError):
                        exchange = await self._replace_channel(connection)
                await self._reconcile_if_due()
        finally:
            self._connection = None
            await connection.close()

    async def _replace_channel(
        self, connection: AbstractRobustConnection
    ) -> AbstractExchange | None:
        """Publish on a new channel from now on. After a quorum queue's leader died, the channel
        aio-pika restored on another node kept delivering the messages but never confirmed them
        again (every pass timed out and published its batch once more, for good: ha-test, 3-node
        RabbitMQ 3.10); a new channel is confirmed normally. An unroutable event (PublishError) or
        a database error says nothing against the channel and keeps it (a connection refused by the
        database, a bare OSError, does replace it: a few channels more during a database outage)."""
        if self._channel is not None:
            with contextlib.suppress(Exception):
                timeout = self._outbox.publish_timeout_seconds
                await asyncio.wait_for(self._channel.close(), timeout)
        return await self._declare(connection)

    async def _declare(self, connection: AbstractRobustConnection) -> AbstractExchange | None:
        while not self._stopping.is_set():
            try:
                # on_return_raises: an unroutable mandatory message fails its publish, never vanishes.
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                self._channel = channel
                topology = await amqp.declare_topology(channel, self._rabbitmq)
            except Exception as exc:  # retried until RabbitMQ accepts it
                self._outage.failed(exc)
                await pause(self._rabbitmq.reconnect_interval_seconds, self._stopping)
            else:
                return topology.exchange
        return None

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._outbox.sweep_interval_seconds)
        self._wake.clear()

    async def _publish_pending(self, exchange: AbstractExchange) -> None:
        """Publish batches until no pending row is left (or a publish fails, which raises)."""
        while True:
            async with self._session_factory() as session, session.begin():
                repository = OutboxRepository(session)
                with suppress_instrumentation():
                    rows = await repository.claim_pending(limit=self._outbox.batch_size)
                if not rows:
                    return
                with tracer.start_as_current_span(
                    "outbox relay pass", attributes={"orders.outbox.events": len(rows)}
                ):
                    confirmed, errors = await self._publish(exchange, rows)
                    await repository.mark_published(event_ids=confirmed, at=utcnow())
            published = set(confirmed)
            for row in rows:
                if row.id in published:
                    EVENTS_PUBLISHED.labels(row.event_type).inc()
            logger.debug("outbox: published %d event(s)", len(confirmed))
            if errors:
                raise errors[0]
            if len(rows) < self._outbox.batch_size:
                return

    async def _publish(
        self, exchange: AbstractExchange, rows: Sequence[OutboxEvent]
    ) -> tuple[list[uuid.UUID], list[BaseException]]:
        # All at once: with publisher confirms the broker acknowledges a whole window together.
        results = await asyncio.gather(
            *(self._publish_one(exchange, row) for row in rows), return_exceptions=True
        )
        confirmed = [row.id for row, result in zip(rows, results, strict=True) if result is None]
        errors = [result for result in results if isinstance(result, BaseException)]
        return confirmed, errors

    async def _publish_one(self, exchange: AbstractExchange, row: OutboxEvent) -> None:
        request_context = context_from_traceparent(row.traceparent)
        relay_pass = trace.get_current_span().get_span_context()
        with tracer.start_as_current_span(
            "outbox publish",
            # Within the request's trace; without one, simply within the pass.
            context=request_context,
            links=[trace.Link(relay_pass)] if request_context is not None else (),
            attributes={
                "orders.event_id": str(row.id),
                "orders.event_type": row.event_type,
                "orders.order_id": str(row.payload.get("order_id")),
            },
        ):
            # aio-pika's instrumentation adds the PRODUCER span and its `traceparent` header.
            await self._send(exchange, row)

    async def _send(self, exchange: AbstractExchange, row: OutboxEvent) -> None:
        correlation = row.payload.get("correlation_id")
        message = aio_pika.Message(
            body=json.dumps(row.payload, separators=(",", ":")).encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(row.id),
            type=row.event_type,
            correlation_id=str(correlation) if correlation else None,
            timestamp=row.created_at,
            app_id="orders",
        )
        await exchange.publish(
            message,
            routing_key=row.event_type,
            mandatory=True,
            timeout=self._outbox.publish_timeout_seconds,
        )

    async def _reconcile_if_due(self) -> None:
        """Publish again every new_order published more than PROCESSING_DEADLINE_SECONDS ago and not
        processed: its message, or the task the consumer made of it, was lost (a Redis primary
        that died before its replica had the task). The worker's processed-event record keeps it
        processed once, whatever the copies."""
        deadline = self._reconcile.processing_deadline_seconds
        now = time.monotonic()
        if now - self._last_reconcile < min(deadline / 4, 60.0):
            return
        self._last_reconcile = now
        try:
            async with self._session_factory() as session, session.begin():
                count = await OutboxRepository(session).republish_unprocessed(
                    event_type=NEW_ORDER, published_before=utcnow() - timedelta(seconds=deadline)
                )
        except (SQLAlchemyError, OSError):
            # OSError: SQLAlchemy lets a failed connection attempt (refused, a primary's name gone
            # from DNS during a failover) through unwrapped; escaping here it would end the relay.
            logger.warning("outbox: reconciliation failed; retried later", exc_info=True)
            return
        if count:
            EVENTS_REPUBLISHED.labels(NEW_ORDER).inc(count)
            self._wake.set()
            logger.warning(
                "outbox: %d %s event(s) not processed %.0fs after publishing; published again",
                count,
                NEW_ORDER,
                deadline,
            )


def start_outbox_relay(
    *,
    outbox: OutboxSettings,
    rabbitmq: RabbitMQSettings,
    database: DatabaseSettings,
    session_factory: async_sessionmaker[AsyncSession],
    reconcile: ReconcileSettings | None = None,
) -> OutboxRelay | None:
    """The relay of this process, started (None when OUTBOX_RELAY_ENABLED is false)."""
    if not outbox.relay_enabled:
        return None
    relay = OutboxRelay(
        session_factory=session_factory,
        listen_dsn=asyncpg_dsn(database),
        outbox=outbox,
        rabbitmq=rabbitmq,
        reconcile=reconcile,
    )
    relay.start()
    return relay
