"""`python -m consumer`: RabbitMQ `new_order` → taskiq task on Redis. `main()` is the composition root.

Manual acknowledgements and a bounded prefetch: a message is acknowledged only after its task is in
Redis, so a consumer killed at any point loses nothing (RabbitMQ redelivers what was not acknowledged;
the worker deduplicates by event id). SIGTERM/SIGINT: stop taking messages, finish those in hand
(CONSUMER_SHUTDOWN_GRACE_SECONDS at most), close, exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aio_pika.abc import AbstractQueue, AbstractRobustConnection, ConsumerTag

from consumer.handler import NewOrderHandler
from consumer.settings import ConsumerProcessSettings, get_consumer_settings
from infra import amqp
from infra.heartbeat import beat_forever
from infra.logs import configure_logging
from infra.metrics import serve_metrics
from infra.taskq import create_broker
from infra.tracing import configure_tracing, instrument_broker

logger = logging.getLogger("consumer")


async def consume(settings: ConsumerProcessSettings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    broker = create_broker(
        redis=settings.redis,
        settings=settings.taskiq,
        max_connections=min(settings.consumer.prefetch_count, 50),
    )
    instrument_broker(broker)
    await broker.startup()
    handler = NewOrderHandler(broker=broker, settings=settings.consumer, stopping=stopping)
    connection = await amqp.connect(settings.rabbitmq, stopping=stopping)
    try:
        subscription = await _subscribe(connection, settings, handler, stopping)
        if subscription is not None and connection is not None:
            queue, consumer_tag = subscription
            # Liveness for the container healthcheck: fresh while connected to RabbitMQ.
            live = connection
            heartbeat = asyncio.create_task(
                beat_forever("consumer", lambda: live.connected.is_set())
            )
            await stopping.wait()
            heartbeat.cancel()
            logger.info("stopping: no new messages")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(consumer_tag), 2)
            await handler.drain(settings.consumer.shutdown_grace_seconds)
    finally:
        if connection is not None:
            await connection.close()
        await broker.shutdown()
        logger.info("consumer stopped")


async def _subscribe(
    connection: AbstractRobustConnection | None,
    settings: ConsumerProcessSettings,
    handler: NewOrderHandler,
    stopping: asyncio.Event,
) -> tuple[AbstractQueue, ConsumerTag] | None:
    """Declare the topology and start consuming, retrying until RabbitMQ accepts (or we stop).

    Afterwards the robust connection restores the channel, the declarations and the consumer itself.
    """
    while connection is not None and not stopping.is_set():
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=settings.consumer.prefetch_count)
            topology = await amqp.declare_topology(channel, settings.rabbitmq)
            consumer_tag = await topology.queue.consume(handler.handle, no_ack=False)
        except Exception as exc:  # retried: the process must outlive a broker hiccup
            logger.warning("could not subscribe (%r); retrying", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stopping.wait(), settings.rabbitmq.reconnect_interval_seconds
                )
        else:
            logger.info(
                "consuming %s (prefetch %d)",
                topology.queue.name,
                settings.consumer.prefetch_count,
            )
            return topology.queue, consumer_tag
    return None


def main() -> None:
    settings = get_consumer_settings()
    configure_logging(settings.app)
    configure_tracing("orders-consumer")
    serve_metrics(settings.consumer.metrics_port, settings.app)
    asyncio.run(consume(settings))
