"""RabbitMQ: the connection and the one declaration of the event topology.

Publisher (the outbox relay) and consumer both declare the topology, through `declare_topology`, so the
queue exists whichever starts first, and with identical arguments: RabbitMQ refuses (and closes the
channel) a re-declaration whose arguments differ.

    exchange "orders" (direct, durable) --new_order--> queue "new_order" (quorum)
        rejected or over the delivery limit --> exchange "orders.dlx" --> queue "new_order.dlq"
    exchange "orders" --order.created, order.status_changed, order.processed--> queue "webhooks"
        (quorum; the webhook dispatcher's) --> exchange "orders.dlx" --> queue "webhooks.dlq"

Every order event of an order's history is published (by the outbox relay) under its type; the
`webhooks` queue takes them all, whether or not the dispatcher runs yet, so none is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.connection import make_url
from aiormq.exceptions import AMQPConnectionError
from pamqp.common import FieldTable
from yarl import URL

from infra.retry import Outage, pause
from infra.settings import RabbitMQSettings

logger = logging.getLogger(__name__)

EXCHANGE = "orders"
DEAD_LETTER_EXCHANGE = "orders.dlx"
# The queue is named after the event it carries, and events are routed by their type.
NEW_ORDER_QUEUE = "new_order"
NEW_ORDER_ROUTING_KEY = "new_order"
NEW_ORDER_DEAD_LETTER_QUEUE = "new_order.dlq"
WEBHOOKS_QUEUE = "webhooks"
WEBHOOKS_DEAD_LETTER_QUEUE = "webhooks.dlq"
ORDER_EVENT_ROUTING_KEYS = ("order.created", "order.status_changed", "order.processed")


@dataclass(frozen=True, slots=True)
class Topology:
    exchange: AbstractExchange
    queue: AbstractQueue
    dead_letter_queue: AbstractQueue
    webhooks_queue: AbstractQueue


def new_order_queue_arguments(settings: RabbitMQSettings) -> FieldTable:
    return _quorum_queue_arguments(settings, NEW_ORDER_DEAD_LETTER_QUEUE)


def webhooks_queue_arguments(settings: RabbitMQSettings) -> FieldTable:
    return _quorum_queue_arguments(settings, WEBHOOKS_DEAD_LETTER_QUEUE)


def _quorum_queue_arguments(settings: RabbitMQSettings, dead_letter_queue: str) -> FieldTable:
    return {
        # Replicated, durable, and with a delivery counter: a message that keeps failing (a consumer
        # crashing on it) stops after `delivery_limit` attempts instead of looping forever.
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": dead_letter_queue,
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

    webhooks_dead_letters = await channel.declare_queue(
        WEBHOOKS_DEAD_LETTER_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await webhooks_dead_letters.bind(dlx, routing_key=WEBHOOKS_DEAD_LETTER_QUEUE)
    webhooks_queue = await channel.declare_queue(
        WEBHOOKS_QUEUE, durable=True, arguments=webhooks_queue_arguments(settings)
    )
    for routing_key in ORDER_EVENT_ROUTING_KEYS:
        await webhooks_queue.bind(exchange, routing_key=routing_key)
    return Topology(
        exchange=exchange,
        queue=queue,
        dead_letter_queue=dead_letter_queue,
        webhooks_queue=webhooks_queue,
    )


# What a failed first connection attempt raises (refused, reset, DNS, handshake).
CONNECT_ERRORS = (OSError, AMQPConnectionError, asyncio.TimeoutError)


async def connect(
    settings: RabbitMQSettings, *, stopping: asyncio.Event
) -> AbstractRobustConnection | None:
    """A robust connection to the first node that answers (RABBITMQ_URLS in turn, as long as it
    takes; None if asked to stop first), which moves to the next node whenever it loses its own.

    Once connected, aio-pika reconnects by itself and restores channels, declarations and consumers;
    `_follow_nodes` only changes the address it reconnects to.
    """
    interval = settings.reconnect_interval_seconds
    nodes = NodeRing(settings.node_urls())
    outage = Outage(
        logger,
        failing="RabbitMQ unreachable",
        recovered="RabbitMQ reachable",
        first_delay=interval,
        max_delay=interval,
    )
    while not stopping.is_set():
        # connect_robust's two steps, so that an attempt given up on can be closed: its
        # reconnection task would otherwise outlive it, holding the process for the timeout.
        connection = aio_pika.RobustConnection(
            make_url(nodes.current, reconnect_interval=interval), reconnect_interval=interval
        )
        try:
            connected = await _unless_stopping(connection.connect(timeout=10), stopping)
        except CONNECT_ERRORS as exc:
            await connection.close()
            nodes.advance()
            # A whole turn of the ring without a node: that is the outage, logged once.
            if nodes.at_start:
                await pause(outage.failed(exc), stopping)
            continue
        if not connected:
            await connection.close()
            return None
        outage.recovered()
        _follow_nodes(connection, nodes, interval=interval)
        return connection
    return None


async def _unless_stopping(connecting: Coroutine[Any, Any, None], stopping: asyncio.Event) -> bool:
    """Await `connecting` (True once done; its exception raised), or cancel it and answer False as
    soon as `stopping` is set: a broker that accepts the TCP connection and never answers would
    otherwise hold a stopping process for the whole attempt's timeout."""
    attempt = asyncio.ensure_future(connecting)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({attempt, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if attempt.done():
        attempt.result()
        return True
    attempt.cancel()
    await asyncio.gather(attempt, return_exceptions=True)
    return False


class NodeRing:
    """The cluster's node URLs, and the one to try next."""

    def __init__(self, urls: list[str]) -> None:
        if not urls:
            msg = "no RabbitMQ URL"
            raise ValueError(msg)
        self._urls = urls
        self._index = 0

    def __len__(self) -> int:
        return len(self._urls)

    @property
    def current(self) -> str:
        return self._urls[self._index]

    @property
    def at_start(self) -> bool:
        return self._index == 0

    def advance(self) -> str:
        self._index = (self._index + 1) % len(self._urls)
        return self.current


def _follow_nodes(
    connection: aio_pika.RobustConnection, nodes: NodeRing, *, interval: float
) -> None:
    """Log one line when the robust connection loses its node and one when it is back (aio-pika's
    own line per attempt is silenced in infra/logs.py), and, with several nodes, point it at the next
    node on the loss and again after every `interval` it stays disconnected: its own reconnection
    loop retries the address it was given (aio-pika knows one node only, mosquito/aio-pika#141).
    `url` is the public attribute that loop reads at each attempt."""
    outage = Outage(
        logger,
        failing="RabbitMQ: connection lost; reconnecting (RABBITMQ_URLS in turn)",
        recovered="RabbitMQ: connected again",
    )

    def move_on(*_: object) -> None:
        if connection.is_closed:
            return
        if len(nodes) > 1:
            connection.url = URL(nodes.advance())
        outage.failed(ConnectionError(f"next: {_without_password(nodes)}"))

    def back(*_: object) -> None:
        outage.recovered()
        logger.info("RabbitMQ: connected to %s", _without_password(nodes))

    connection.close_callbacks.add(move_on)
    connection.reconnect_callbacks.add(back)

    async def watch() -> None:
        while not connection.is_closed:
            await asyncio.sleep(interval)
            # Still down after an attempt's pause: that node is not coming back yet, try another.
            if not connection.connected.is_set() and not connection.is_closed:
                await asyncio.sleep(interval)
                if not connection.connected.is_set() and not connection.is_closed:
                    move_on()

    task = asyncio.get_running_loop().create_task(watch(), name="amqp-follow-nodes")
    _WATCHERS.add(task)
    task.add_done_callback(_WATCHERS.discard)


# Strong references to the watchers (the loop keeps only weak ones); each ends with its connection.
_WATCHERS: set[asyncio.Task[None]] = set()


def _without_password(nodes: NodeRing) -> str:
    url = URL(nodes.current)
    return str(url.with_password("******")) if url.password else str(url)
