"""RabbitMQ: the connection and the one declaration of the event topology.

Publisher (the outbox relay) and consumer both declare the topology, through `declare_topology`, so the
queue exists whichever starts first, and with identical arguments: RabbitMQ refuses (and closes the
channel) a re-declaration whose arguments differ.

    exchange "orders" (direct, durable) --new_order--> queue "new_order" (quorum)
        rejected or over the delivery limit --> exchange "orders.dlx" --> queue "new_order.dlq"
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq.exceptions import AMQPConnectionError
from pamqp.common import FieldTable

from infra.retry import Outage, pause
from infra.settings import RabbitMQSettings

logger = logging.getLogger(__name__)

EXCHANGE = "orders"
DEAD_LETTER_EXCHANGE = "orders.dlx"
# The queue is named after the event it carries, and events are routed by their type.
NEW_ORDER_QUEUE = "new_order"
NEW_ORDER_ROUTING_KEY = "new_order"
NEW_ORDER_DEAD_LETTER_QUEUE = "new_order.dlq"


@dataclass(frozen=True, slots=True)
class Topology:
    exchange: AbstractExchange
    queue: AbstractQueue
    dead_letter_queue: AbstractQueue


def new_order_queue_arguments(settings: RabbitMQSettings) -> FieldTable:
    return {
        # Replicated, durable, and with a delivery counter: a message that keeps failing (a consumer
        # crashing on it) stops after `delivery_limit` attempts instead of looping forever.
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": NEW_ORDER_DEAD_LETTER_QUEUE,
        # Dead-lettering that cannot lose the message on the way to the DLQ (needs reject-publish).
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def declare_topology(channel: AbstractChannel, settings: RabbitMQSettings) -> Topology:
    dlx = await channel.declare_exchange(
        DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dead_letter_queue = await channel.declare_queue(
        NEW_ORDER_DEAD_LETTER_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_letter_queue.bind(dlx, routing_key=NEW_ORDER_DEAD_LETTER_QUEUE)

    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    queue = await channel.declare_queue(
        NEW_ORDER_QUEUE, durable=True, arguments=new_order_queue_arguments(settings)
    )
    await queue.bind(exchange, routing_key=NEW_ORDER_ROUTING_KEY)
    return Topology(exchange=exchange, queue=queue, dead_letter_queue=dead_letter_queue)


# What a failed first connection attempt raises (refused, reset, DNS, handshake).
CONNECT_ERRORS = (OSError, AMQPConnectionError, asyncio.TimeoutError)


async def connect(
    settings: RabbitMQSettings, *, stopping: asyncio.Event
) -> AbstractRobustConnection | None:
    """A robust connection, waiting for RabbitMQ as long as it takes (None if asked to stop first).

    Once connected, aio-pika reconnects by itself and restores channels, declarations and consumers;
    only the first attempt needs this loop.
    """
    interval = settings.reconnect_interval_seconds
    outage = Outage(
        logger,
        failing="RabbitMQ unreachable",
        recovered="RabbitMQ reachable",
        first_delay=interval,
        max_delay=interval,
    )
    while not stopping.is_set():
        try:
            connection = await aio_pika.connect_robust(
                settings.url, reconnect_interval=interval, timeout=10
            )
        except CONNECT_ERRORS as exc:
            await pause(outage.failed(exc), stopping)
        else:
            outage.recovered()
            return connection
    return None
