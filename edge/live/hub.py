"""Live order events in the API process, for both interfaces (GraphQL subscriptions, REST SSE).

One `LiveHub` per process listens to the deployment's Redis channel (infra/live.py), where every
committed order event is published by whichever process committed it, and hands each event to the
local subscribers of that order or of its owner. A subscriber reads through `order_changes`
(edge/live/changes.py), which turns that best-effort feed into an exact one.

Each subscription holds a lease (edge/live/leases.py) that counts it against its user's limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import Enum
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.orders.errors import TooManyLiveSubscriptions
from domain.orders.schemas import OrderChange
from edge.live.leases import LEASE_SECONDS, Leases
from edge.settings import LiveSettings
from infra.live import live_channel
from infra.metrics import LIVE_SUBSCRIPTIONS
from infra.redis import RedisBreaker, redis_client
from infra.retry import Outage, pause
from infra.settings import RedisSettings

logger = logging.getLogger(__name__)

# Events waiting for one slow subscriber; past it the inbox resynchronises from the history table.
INBOX_SIZE = 256


class Signal(Enum):
    # Events may have been missed (Redis reconnected, the inbox overflowed): re-read the history.
    RESYNC = "resync"
    # The process is stopping: end the stream.
    CLOSED = "closed"


class Inbox:
    """One live subscription's queue: the changes of one order, or of all of one user's orders."""

    __slots__ = ("ends_on_drain", "lease", "order_id", "queue", "user_id")

    def __init__(self, *, user_id: int, order_id: uuid.UUID | None, ends_on_drain: bool) -> None:
        self.user_id = user_id
        self.order_id = order_id
        self.ends_on_drain = ends_on_drain
        self.lease = uuid.uuid4().hex
        self.queue: asyncio.Queue[OrderChange | Signal] = asyncio.Queue(INBOX_SIZE)

    def push(self, item: OrderChange | Signal) -> None:
        if self.queue.full():
            # A subscriber this far behind re-reads what it missed from the database instead.
            while not self.queue.empty():
                self.queue.get_nowait()
            item = Signal.RESYNC if item is not Signal.CLOSED else item
        self.queue.put_nowait(item)


def _discard(index: dict[Any, set[Inbox]], key: object, inbox: Inbox) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(inbox)
        if not members:
            del index[key]


class TooManyConnections(Exception):
    """The client address holds as many live connections as it may (LIVE_MAX_CONNECTIONS_PER_ADDRESS)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"At most {limit} live connections per client address")


class LiveHub:
    def __init__(
        self,
        *,
        redis: Redis,
        breaker: RedisBreaker,
        redis_settings: RedisSettings,
        settings: LiveSettings,
    ) -> None:
        self.settings = settings
        self._redis_settings = redis_settings
        self._channel = live_channel(redis_settings.key_prefix)
        self._subscription_leases = Leases(
            redis=redis,
            breaker=breaker,
            key_prefix=f"{redis_settings.key_prefix}live:leases:",
            limit=settings.max_subscriptions_per_user,
        )
        self._address_leases = Leases(
            redis=redis,
            breaker=breaker,
            key_prefix=f"{redis_settings.key_prefix}live:addresses:",
            limit=settings.max_connections_per_address,
        )
        self._by_order: defaultdict[uuid.UUID, set[Inbox]] = defaultdict(set)
        self._by_user: defaultdict[int, set[Inbox]] = defaultdict(set)
        self._inboxes: set[Inbox] = set()
        # How to close each open live connection (WebSocket) when the process stops, and the
        # (address, lease) it holds.
        self._connections: dict[Callable[[], Awaitable[None]], tuple[str, str]] = {}
        # Open connections of this process by client address (an address with none has no entry):
        # the bound still holds here while Redis, which counts the whole deployment's, is away.
        self._per_address: Counter[str] = Counter()
        self._stopping = asyncio.Event()
        # Set whenever a connection or an inbox goes away (drain waits for all of them).
        self._gone = asyncio.Event()
        self._listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, *, within: float = 2.0) -> None:
        """Start listening; waits (at most `within`) until subscribed, so that a process that says
        it is ready delivers what is committed from then on. Without Redis it starts anyway."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="live-listen"),
            asyncio.create_task(self._renew_leases(), name="live-leases"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), within)

    async def drain(self) -> None:
        """Stop: end the streams that end with the server (SSE), close every registered connection
        (WebSockets: 1001) and wait, at most the grace time, until they are gone."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        for inbox in self._inboxes:
            if inbox.ends_on_drain:
                inbox.push(Signal.CLOSED)
        closers = list(self._connections)
        logger.info(
            "closing %d live WebSocket(s) and %d stream(s)",
            len(closers),
            sum(inbox.ends_on_drain for inbox in self._inboxes),
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.shutdown_grace_seconds):
                await asyncio.gather(*(close() for close in closers), return_exceptions=True)
                while self._connections or any(i.ends_on_drain for i in self._inboxes):
                    await self._gone.wait()
                    self._gone.clear()

    async def stop(self) -> None:
        await self.drain()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.asynccontextmanager
    async def connection(
        self, close: Callable[[], Awaitable[None]], *, address: str
    ) -> AsyncIterator[None]:
        """Register an open live connection from client `address`, so that `drain` can close it;
        `TooManyConnections` when that address already holds LIVE_MAX_CONNECTIONS_PER_ADDRESS across
        the deployment."""
        limit = self.settings.max_connections_per_address
        lease = uuid.uuid4().hex
        if self._per_address[address] >= limit or not await self._address_leases.take(
            address, lease
        ):
            raise TooManyConnections(limit)
        self._per_address[address] += 1
        self._connections[close] = (address, lease)
        try:
            yield
        finally:
            del self._connections[close]
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]
            self._gone.set()
            await self._address_leases.release(address, lease)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, user_id: int, order_id: uuid.UUID | None, ends_on_drain: bool
    ) -> AsyncIterator[Inbox]:
        """An inbox for the changes of `order_id` (or of all `user_id`'s orders), registered before
        anything is read, so that nothing committed from then on can slip past it. Raises
        `TooManyLiveSubscriptions` past the per-user limit."""
        inbox = Inbox(user_id=user_id, order_id=order_id, ends_on_drain=ends_on_drain)
        if not await self._subscription_leases.take(user_id, inbox.lease):
            raise TooManyLiveSubscriptions(self.settings.max_subscriptions_per_user)
        if self._stopping.is_set():
            inbox.push(Signal.CLOSED)
        self._inboxes.add(inbox)
        (self._by_order[order_id] if order_id is not None else self._by_user[user_id]).add(inbox)
        LIVE_SUBSCRIPTIONS.inc()
        try:
            yield inbox
        finally:
            LIVE_SUBSCRIPTIONS.dec()
            self._forget(inbox)
            await self._subscription_leases.release(user_id, inbox.lease)

    def _forget(self, inbox: Inbox) -> None:
        self._inboxes.discard(inbox)
        self._gone.set()
        if inbox.order_id is not None:
            _discard(self._by_order, inbox.order_id, inbox)
        else:
            _discard(self._by_user, inbox.user_id, inbox)

    async def _renew_leases(self) -> None:
        while not self._stopping.is_set():
            await pause(LEASE_SECONDS / 3, self._stopping)
            if self._inboxes:
                held = [(inbox.user_id, inbox.lease) for inbox in self._inboxes]
                await self._subscription_leases.renew(held)
            if self._connections:
                await self._address_leases.renew(list(self._connections.values()))

    async def _listen(self) -> None:
        # Its own connection without the request path's short timeout: it waits for messages.
        client = redis_client(
            self._redis_settings, socket_connect_timeout=2, health_check_interval=10
        )
        outage = Outage(
            logger, failing="live events: redis subscription lost", recovered="live events back"
        )
        try:
            while not self._stopping.is_set():
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self._channel)
                    if outage.failures:
                        # Whatever was published meanwhile never reached us: re-read it.
                        for inbox in self._inboxes:
                            inbox.push(Signal.RESYNC)
                    outage.recovered()
                    self._listening.set()
                    while not self._stopping.is_set():
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            self._dispatch(message["data"])
                except (RedisError, OSError) as exc:
                    self._listening.clear()
                    await pause(outage.failed(exc), self._stopping)
                finally:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
        finally:
            await client.aclose()

    def _dispatch(self, data: bytes) -> None:
        try:
            change = OrderChange.model_validate_json(data)
        except ValidationError:
            logger.warning("ignored a malformed live event: %r", data[:200])
            return
        for inbox in self._by_order.get(change.order_id, ()):
            inbox.push(change)
        for inbox in self._by_user.get(change.user_id, ()):
            inbox.push(change)
