"""`python -m dispatcher` (the `webhooks` process). `main()` is the composition root.

Two loops over PostgreSQL, fed by RabbitMQ:
- fan-out (`fan_out.py`): order events from the `webhooks` quorum queue become deliveries (one per
  subscribed endpoint), many messages per transaction, acknowledged only after its commit;
- attempts (`attempts.py`): due deliveries are leased and sent, each in a task of its own, bounded in
  all and per endpoint; their outcomes are recorded in batches.
SIGTERM/SIGINT: stop taking messages and leasing, finish what is in hand (a grace period), exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from typing import Any

from aio_pika.abc import AbstractQueue, AbstractRobustConnection, ConsumerTag
from sqlalchemy.exc import SQLAlchemyError

from dispatcher.attempts import Attempts
from dispatcher.fan_out import FanOut
from dispatcher.sender import Sender
from dispatcher.settings import DispatcherProcessSettings, get_dispatcher_settings
from dispatcher.upkeep import run_upkeep
from infra import amqp
from infra.db import create_engine, create_session_factory
from infra.heartbeat import beat_forever
from infra.logs import configure_logging
from infra.metrics import serve_metrics
from infra.retry import pause
from infra.tracing import configure_tracing

logger = logging.getLogger("webhooks")

DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


async def dispatch(settings: DispatcherProcessSettings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    engine = create_engine(settings.database)
    sessions = create_session_factory(engine)
    sender = Sender(
        settings=settings.webhooks,
        environment=settings.app.environment,
        per_endpoint=settings.dispatcher.max_in_flight_per_endpoint,
    )
    attempts = Attempts(
        sessions=sessions,
        sender=sender,
        settings=settings.webhooks,
        limits=settings.dispatcher,
        stopping=stopping,
        database_errors=DATABASE_ERRORS,
    )
    fan_out = FanOut(
        sessions=sessions,
        cursors_kept_for=timedelta(days=settings.retention.webhook_order_cursors_retention_days),
        stopping=stopping,
        made=attempts.wake.set,
        database_errors=DATABASE_ERRORS,
    )
    logger.info("webhooks: connecting to RabbitMQ")
    connection = await amqp.connect(settings.rabbitmq, stopping=stopping)
    # Running before the subscription: a message may arrive as soon as it is made.
    loops = [
        asyncio.create_task(fan_out.run(), name="webhook-fan-out"),
        asyncio.create_task(attempts.run_recorder(), name="webhook-recorder"),
    ]
    try:
        if connection is not None:
            await _serve(connection, settings, fan_out, attempts, stopping)
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await sender.close()
        if connection is not None:
            await connection.close()
        await engine.dispose()
        logger.info("webhooks stopped")


async def _serve(
    connection: AbstractRobustConnection,
    settings: DispatcherProcessSettings,
    fan_out: FanOut,
    attempts: Attempts,
    stopping: asyncio.Event,
) -> None:
    """Consume and lease until stopping, then finish what is in hand (the grace period)."""
    subscription = await _subscribe(connection, settings, fan_out, stopping)
    if subscription is None:
        return
    queue, consumer_tag = subscription
    leasing = asyncio.create_task(attempts.run_leasing(), name="webhook-attempts")
    upkeep = asyncio.create_task(
        run_upkeep(
            sessions=attempts.sessions,
            settings=settings.webhooks,
            stopping=stopping,
            database_errors=DATABASE_ERRORS,
        ),
        name="webhook-upkeep",
    )
    heartbeat = asyncio.create_task(
        beat_forever("webhooks", lambda: connection.connected.is_set()), name="heartbeat"
    )
    try:
        await stopping.wait()
        logger.info("stopping: no new messages or attempts")
        if connection.connected.is_set():
            # Without a connection there is no consumer to cancel (and nobody to answer).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(consumer_tag), 2)
        heartbeat.cancel()
        await asyncio.gather(leasing, upkeep, return_exceptions=True)
        # Messages and attempts in hand finish (the batchers and the recorder run until they do).
        await _drain(fan_out.in_hand | attempts.in_hand, settings.dispatcher.shutdown_grace_seconds)
    finally:
        for task in (leasing, upkeep, heartbeat):
            task.cancel()


async def _drain(in_hand: set[asyncio.Task[Any]], grace: float) -> None:
    if in_hand:
        logger.info("finishing %d message(s) and attempt(s) in hand", len(in_hand))
        _, late = await asyncio.wait(set(in_hand), timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


async def _subscribe(
    connection: AbstractRobustConnection,
    settings: DispatcherProcessSettings,
    fan_out: FanOut,
    stopping: asyncio.Event,
) -> tuple[AbstractQueue, ConsumerTag] | None:
    """Declare the topology and consume the `webhooks` queue, retrying until RabbitMQ accepts;
    afterwards the robust connection restores channel, declarations and consumer by itself."""
    while not stopping.is_set():
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=settings.dispatcher.prefetch_count)
            topology = await amqp.declare_topology(channel, settings.rabbitmq)
            consumer_tag = await topology.webhooks_queue.consume(fan_out.handle, no_ack=False)
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
    configure_tracing("orders-webhooks")
    serve_metrics(settings.dispatcher.metrics_port, settings.app)
    asyncio.run(dispatch(settings))
