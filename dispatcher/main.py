"""`python -m dispatcher` (the `webhooks` process). `main()` is the composition root.

Two loops over PostgreSQL, fed by RabbitMQ:
- fan-out: each order event from the `webhooks` quorum queue becomes deliveries (one per subscribed
  endpoint) in one transaction, and only then is the message acknowledged. A dispatcher killed at
  any point loses nothing: RabbitMQ redelivers what was not acknowledged, and fanning out twice
  makes nothing twice (`domain.webhooks.service.fan_out`).
- attempts: due deliveries are leased and sent, each in a task of its own, bounded in all and per
  endpoint, so a hanging endpoint only ever holds its own slots. The outcome of each attempt is
  recorded once; an attempt lost with its process (SIGKILL) is never logged and, when its lease runs
  out, is made again with the same webhook-id.
SIGTERM/SIGINT: stop taking messages and leasing, finish what is in hand (a grace period), exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    ConsumerTag,
)
from opentelemetry import trace
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatcher.sender import Sender
from dispatcher.settings import DispatcherProcessSettings, get_dispatcher_settings
from domain.uow import UnitOfWork
from domain.webhooks import service
from domain.webhooks.repository import ClaimedDelivery
from infra import amqp
from infra.db import create_engine, create_session_factory, utcnow
from infra.heartbeat import beat_forever
from infra.logs import configure_logging
from infra.metrics import (
    WEBHOOK_DELIVERIES,
    WEBHOOK_DELIVERY_SECONDS,
    WEBHOOK_DISABLED,
    WEBHOOK_ENDPOINTS_DISABLED,
    WEBHOOK_PENDING,
    serve_metrics,
)
from infra.retry import Outage, pause
from infra.tracing import configure_tracing, context_from_traceparent, current_traceparent

logger = logging.getLogger("webhooks")
tracer = trace.get_tracer(__name__)

GAUGES_EVERY_SECONDS = 10.0
RECORD_BATCH = 200
PURGE_EVERY_SECONDS = 600.0
PURGE_BATCH = 5000
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivery: ClaimedDelivery
    started_at: datetime
    result: service.AttemptResult
    done: asyncio.Future[service.Recorded | None]


class Dispatcher:
    def __init__(
        self,
        *,
        settings: DispatcherProcessSettings,
        session_factory: async_sessionmaker[AsyncSession],
        stopping: asyncio.Event,
    ) -> None:
        self._settings = settings
        self._webhooks = settings.webhooks
        self._limits = settings.dispatcher
        self._sessions = session_factory
        self._stopping = stopping
        self._wake = asyncio.Event()
        self._sender = Sender(
            settings=settings.webhooks,
            environment=settings.app.environment,
            per_endpoint=settings.dispatcher.max_in_flight_per_endpoint,
        )
        self._db_slots = asyncio.Semaphore(settings.database.pool_size)
        # Fan-outs (up to the prefetch at once) take at most half of those: leasing and recording
        # attempts never queue behind a backlog of them.
        self._fan_out_slots = asyncio.Semaphore(max(1, settings.database.pool_size // 2))
        self._in_flight: Counter[uuid.UUID] = Counter()
        self._attempts: set[asyncio.Task[None]] = set()
        self._outcomes: asyncio.Queue[_Outcome] = asyncio.Queue()
        self._fanning_out: set[asyncio.Task[object]] = set()
        self._fan_out_outage = Outage(
            logger, failing="webhooks: fan-out failing", recovered="webhooks: fan-out resumed"
        )
        self._claim_outage = Outage(
            logger, failing="webhooks: leasing failing", recovered="webhooks: leasing resumed"
        )

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work once a pooled connection is free for it: fan-outs and attempts in hand
        outnumber the pool, and they queue here rather than time out waiting for a connection."""
        async with self._db_slots, UnitOfWork(self._sessions) as uow:
            yield uow

    # --- fan-out ---------------------------------------------------------------------------------

    async def handle(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._fanning_out.add(task)
        try:
            await self._handle(message)
        except Exception:
            # Typically the channel closed under us: the unacknowledged message is redelivered.
            logger.exception("message %s: fan-out failed", message.message_id)
        finally:
            if task is not None:
                self._fanning_out.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            body = json.loads(message.body)
            order_id = uuid.UUID(str(body["order_id"]))
            seq = int(body["seq"])
        except (ValueError, KeyError, TypeError):
            logger.error(
                "message %s: malformed order event, rejected to the dead-letter queue",
                message.message_id,
            )
            await message.reject(requeue=False)
            return
        while True:
            try:
                async with self._fan_out_slots, self.unit_of_work() as uow:
                    made = await service.fan_out(
                        uow=uow, order_id=order_id, seq=seq, traceparent=current_traceparent()
                    )
            except DATABASE_ERRORS as exc:
                delay = self._fan_out_outage.failed(exc)
                if self._stopping.is_set():
                    await message.nack(requeue=True)
                    return
                await pause(delay, self._stopping)
            else:
                self._fan_out_outage.recovered()
                break
        await message.ack()
        if made:
            logger.debug("order %s: %d delivery(ies) up to seq %d", order_id, made, seq)
            self._wake.set()

    # --- attempts --------------------------------------------------------------------------------

    async def run_attempts(self) -> None:
        while not self._stopping.is_set():
            room = self._limits.max_in_flight - len(self._attempts)
            claimed: list[ClaimedDelivery] = []
            if room > 0:
                saturated = [
                    endpoint
                    for endpoint, count in self._in_flight.items()
                    if count >= self._limits.max_in_flight_per_endpoint
                ]
                try:
                    async with self.unit_of_work() as uow:
                        claimed = await service.claim_due(
                            uow=uow,
                            settings=self._webhooks,
                            limit=min(room, 500),
                            per_endpoint=self._limits.max_in_flight_per_endpoint,
                            saturated=saturated,
                        )
                except DATABASE_ERRORS as exc:
                    await pause(self._claim_outage.failed(exc), self._stopping)
                    continue
                self._claim_outage.recovered()
                for delivery in claimed:
                    self._start(delivery)
            if claimed and len(claimed) >= min(room, 500):
                continue  # more may be due right now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._limits.poll_interval_seconds)
            self._wake.clear()

    def _start(self, delivery: ClaimedDelivery) -> None:
        self._in_flight[delivery.endpoint_id] += 1
        task = asyncio.create_task(self._attempt(delivery), name=f"webhook-{delivery.id}")
        self._attempts.add(task)
        task.add_done_callback(lambda done: self._finished(done, delivery.endpoint_id))

    def _finished(self, task: asyncio.Task[None], endpoint_id: uuid.UUID) -> None:
        self._attempts.discard(task)
        self._in_flight[endpoint_id] -= 1
        if self._in_flight[endpoint_id] <= 0:
            del self._in_flight[endpoint_id]
        self._wake.set()

    async def _attempt(self, delivery: ClaimedDelivery) -> None:
        started_at = utcnow()
        with tracer.start_as_current_span(
            "webhook delivery",
            context=context_from_traceparent(delivery.traceparent),
            kind=trace.SpanKind.CLIENT,
            attributes={
                "orders.order_id": str(delivery.order_id),
                "orders.webhook_id": str(delivery.endpoint_id),
                "orders.webhook_delivery_id": delivery.id,
                "orders.event_type": delivery.event_type,
            },
        ) as span:
            result = await self._sender.attempt(delivery)
            WEBHOOK_DELIVERY_SECONDS.observe(result.duration_ms / 1000)
            if result.response_status is not None:
                span.set_attribute("http.response.status_code", result.response_status)
            recorded = await self._record(delivery, started_at, result)
        if recorded is None:
            return
        outcome = "refused" if result.refused else recorded.verdict.value
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        if recorded.status == "failed":
            logger.info(
                "delivery %s to webhook %s failed (%s)",
                delivery.id,
                delivery.endpoint_id,
                result.error or result.response_status,
            )
        if recorded.disabled is not None:
            WEBHOOK_ENDPOINTS_DISABLED.labels(
                "gone" if "410" in recorded.disabled else "failures"
            ).inc()
            logger.warning("webhook %s disabled: %s", delivery.endpoint_id, recorded.disabled)

    async def _record(
        self, delivery: ClaimedDelivery, started_at: datetime, result: service.AttemptResult
    ) -> service.Recorded | None:
        """The outcome, recorded by the recorder with others that finished meanwhile; None when it
        could not be (the delivery is then attempted again when its lease runs out)."""
        done: asyncio.Future[service.Recorded | None] = asyncio.get_running_loop().create_future()
        self._outcomes.put_nowait(_Outcome(delivery, started_at, result, done))
        return await done

    async def run_recorder(self) -> None:
        """Record finished attempts, as many as are waiting in one transaction (one statement
        each, one commit for all): at hundreds of deliveries a second, a transaction per attempt
        spent the connections and the round trips. A failing database is retried for as long as
        the leases last; past that the outcomes are dropped, and the deliveries attempted again."""
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < RECORD_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            deadline = time.monotonic() + self._webhooks.timeout_seconds
            delay = 0.1
            while True:
                try:
                    async with self.unit_of_work() as uow:
                        results: list[service.Recorded | None] = [
                            await service.record_attempt(
                                uow=uow,
                                settings=self._webhooks,
                                delivery=outcome.delivery,
                                started_at=outcome.started_at,
                                result=outcome.result,
                            )
                            for outcome in batch
                        ]
                except DATABASE_ERRORS as exc:
                    if time.monotonic() + delay > deadline:
                        logger.warning("%d outcome(s) not recorded (%r)", len(batch), exc)
                        results = [None] * len(batch)
                        break
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                else:
                    break
            for outcome, recorded in zip(batch, results, strict=True):
                if not outcome.done.done():
                    outcome.done.set_result(recorded)

    # --- upkeep ----------------------------------------------------------------------------------

    async def run_upkeep(self) -> None:
        """The pending and disabled gauges, and retention of the delivery log."""
        last_purge = 0.0
        while not self._stopping.is_set():
            try:
                async with self.unit_of_work() as uow:
                    WEBHOOK_PENDING.set(await uow.webhooks.count_pending())
                    WEBHOOK_DISABLED.set(await uow.webhooks.count_disabled())
                if time.monotonic() - last_purge >= PURGE_EVERY_SECONDS:
                    last_purge = time.monotonic()
                    await self.purge()
            except DATABASE_ERRORS:
                logger.debug("webhooks: upkeep failed", exc_info=True)
            await pause(GAUGES_EVERY_SECONDS, self._stopping)

    async def purge(self) -> int:
        """Succeeded deliveries past WEBHOOK_LOG_RETENTION_DAYS, deleted in batches."""
        total = 0
        while True:
            async with self.unit_of_work() as uow:
                purged = await service.purge_succeeded(
                    uow=uow, settings=self._webhooks, limit=PURGE_BATCH
                )
            total += purged
            if purged < PURGE_BATCH:
                break
        if total:
            logger.info("webhooks: purged %d succeeded delivery(ies)", total)
        return total

    async def drain(self, grace_seconds: float) -> None:
        pending = self._fanning_out | self._attempts
        if pending:
            logger.info("finishing %d message(s) and attempt(s) in hand", len(pending))
            _, late = await asyncio.wait(set(pending), timeout=grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._sender.close()


async def dispatch(settings: DispatcherProcessSettings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    engine = create_engine(settings.database)
    dispatcher = Dispatcher(
        settings=settings, session_factory=create_session_factory(engine), stopping=stopping
    )
    connection = await amqp.connect(settings.rabbitmq, stopping=stopping)
    loops: list[asyncio.Task[None]] = []
    try:
        subscription = await _subscribe(connection, settings, dispatcher, stopping)
        if subscription is not None and connection is not None:
            queue, consumer_tag = subscription
            live = connection
            leasing = asyncio.create_task(dispatcher.run_attempts(), name="webhook-attempts")
            upkeep = asyncio.create_task(dispatcher.run_upkeep(), name="webhook-upkeep")
            recorder = asyncio.create_task(dispatcher.run_recorder(), name="webhook-recorder")
            heartbeat = asyncio.create_task(
                beat_forever("webhooks", lambda: live.connected.is_set()), name="heartbeat"
            )
            loops = [leasing, upkeep, recorder, heartbeat]
            await stopping.wait()
            logger.info("stopping: no new messages or attempts")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(consumer_tag), 2)
            heartbeat.cancel()
            await asyncio.gather(leasing, upkeep, return_exceptions=True)
            # Attempts in hand finish and are recorded (the recorder runs until they are).
            await dispatcher.drain(settings.dispatcher.shutdown_grace_seconds)
    finally:
        for task in loops:
            task.cancel()
        if connection is not None:
            await connection.close()
        await engine.dispose()
        logger.info("webhooks stopped")


async def _subscribe(
    connection: AbstractRobustConnection | None,
    settings: DispatcherProcessSettings,
    dispatcher: Dispatcher,
    stopping: asyncio.Event,
) -> tuple[AbstractQueue, ConsumerTag] | None:
    """Declare the topology and consume the `webhooks` queue, retrying until RabbitMQ accepts;
    afterwards the robust connection restores channel, declarations and consumer by itself."""
    while connection is not None and not stopping.is_set():
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=settings.dispatcher.prefetch_count)
            topology = await amqp.declare_topology(channel, settings.rabbitmq)
            consumer_tag = await topology.webhooks_queue.consume(dispatcher.handle, no_ack=False)
        except Exception as exc:  # retried: the process must outlive a broker hiccup
            logger.warning("could not subscribe (%r); retrying", exc)
            await pause(settings.rabbitmq.reconnect_interval_seconds, stopping)
        else:
            logger.info(
                "consuming %s (prefetch %d)",
                topology.webhooks_queue.name,
                settings.dispatcher.prefetch_count,
            )
            return topology.webhooks_queue, consumer_tag
    return None


def main() -> None:
    settings = get_dispatcher_settings()
    configure_logging(settings.app)
    # httpx logs every request at INFO, URL included (a receiver's URL may carry its own token):
    # attempts are logged here, by delivery and endpoint id, when they fail.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    configure_tracing("orders-webhooks")
    serve_metrics(settings.dispatcher.metrics_port)
    asyncio.run(dispatch(settings))
