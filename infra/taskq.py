"""taskiq on a Redis stream: the broker both the consumer (which enqueues) and the worker use.

`ReliableStreamBroker` is taskiq-redis's `RedisStreamBroker` (1.2.4) with the gaps that lose or stall
tasks closed:
- The consumer group is created at id "0" (not "$") and the stream with it, by whichever side comes
  first, so tasks enqueued before any worker ever started are processed, not skipped.
- Tasks left unacknowledged by a worker that died are reclaimed (XAUTOCLAIM) on a timer. Upstream only
  reclaims after reading new messages, so an idle queue kept a dead worker's tasks forever.
- A live worker refreshes the tasks it holds (XCLAIM JUSTID, which resets their idle time and not
  their delivery count), so `reclaim_idle_seconds` can be short without stealing slow tasks.
- A task that raised is not acknowledged: it is retried after `reclaim_idle_seconds`, and moved to the
  `<stream>:dead` stream after `max_deliveries` (upstream acknowledges failures: the task is gone).
- An acknowledged entry is also deleted (XACK + XDEL): the stream holds only the work still to do, and
  no MAXLEN trimming (which drops entries whether or not they were processed) is needed.
- A Redis outage makes the listener wait and retry instead of crashing the worker.
Nothing connects until the first command: building the broker is free.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.message import BrokerMessage
from taskiq_redis import RedisStreamBroker

from infra.redis import blocking_pool
from infra.retry import Outage, pause
from infra.settings import RedisSettings, TaskQueueSettings

logger = logging.getLogger(__name__)

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
XREAD_BLOCK_MS = 1000


class ReliableStreamBroker(RedisStreamBroker):
    def __init__(
        self, *, redis: RedisSettings, settings: TaskQueueSettings, max_connections: int
    ) -> None:
        self._reclaim_idle_ms = round(settings.reclaim_idle_seconds * 1000)
        connection_options: dict[str, Any] = {
            "socket_connect_timeout": 5,
            "socket_timeout": XREAD_BLOCK_MS / 1000 + 5,
        }
        super().__init__(
            url=redis.url,
            queue_name=settings.stream,
            consumer_group_name=settings.consumer_group,
            # Unique per process: a restarted worker must not inherit the dead one's identity
            # (its pending tasks are reclaimed by idle time, whoever asks).
            consumer_name=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
            consumer_id="0",
            mkstream=True,
            xread_block=XREAD_BLOCK_MS,
            maxlen=None,
            idle_timeout=self._reclaim_idle_ms,
            xread_count=10,
            unacknowledged_batch_size=10,
            max_connection_pool_size=max_connections,
            **connection_options,
        )
        # REDIS_URL's node, or the primary the Sentinels name (REDIS_SENTINELS): every command of
        # this broker goes through this pool.
        self.connection_pool = blocking_pool(
            redis, max_connections=max_connections, **connection_options
        )
        self.dead_stream = f"{settings.stream}:dead"
        self._max_deliveries = settings.max_deliveries
        self._group_ready = False
        # Stream entry id → task id, for the entries this process holds and has not acknowledged.
        self._in_hand: dict[bytes, str] = {}
        self._failed_tasks: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        # False while the listener cannot reach Redis: the worker's liveness heartbeat stops.
        self.redis_reachable = True
        self.add_middlewares(_LeaveFailedTasksPending(self))

    async def startup(self) -> None:
        # The group is declared lazily (first kick, first read) with retries: startup must not fail
        # because Redis is briefly away.
        await super(RedisStreamBroker, self).startup()

    async def shutdown(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await super().shutdown()

    async def ensure_group(self) -> None:
        if self._group_ready:
            return
        async with Redis(connection_pool=self.connection_pool) as redis:
            try:
                await redis.xgroup_create(
                    self.queue_name, self.consumer_group_name, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._group_ready = True

    async def kick(self, message: BrokerMessage) -> None:
        await self.ensure_group()
        async with Redis(connection_pool=self.connection_pool) as redis:
            await redis.xadd(self.queue_name, {b"data": message.message})

    def leave_pending(self, task_id: str) -> None:
        self._failed_tasks.add(task_id)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """New entries, and entries abandoned by dead workers, as they come; survives Redis outages."""
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._refresh_in_hand(), name="taskiq-heartbeat")
        reclaim_every = self._reclaim_idle_ms / 2000
        next_reclaim = 0.0
        outage = Outage(
            logger,
            failing="taskiq: Redis unavailable",
            recovered="taskiq: Redis is back",
            first_delay=0.2,
        )
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                try:
                    await self.ensure_group()
                    if time.monotonic() >= next_reclaim:
                        next_reclaim = time.monotonic() + reclaim_every
                        for entry_id, fields in await self._reclaim(redis):
                            yield self._ackable(entry_id, fields)
                    block = max(1, min(XREAD_BLOCK_MS, round(reclaim_every * 1000)))
                    fetched: Any = await redis.xreadgroup(
                        self.consumer_group_name,
                        self.consumer_name,
                        {self.queue_name: ">"},
                        block=block,
                        count=self.count,
                    )
                    outage.recovered()
                    self.redis_reachable = True
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                        raise
                    # The stream was deleted under us (a flush): declare it again, from id 0.
                    logger.warning("taskiq: consumer group missing, re-creating it")
                    self._group_ready = False
                    continue
                except REDIS_ERRORS as exc:
                    self.redis_reachable = False
                    await pause(outage.failed(exc))
                    continue
                batches: list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] = fetched or []
                for _stream, entries in batches:
                    for entry_id, fields in entries:
                        yield self._ackable(entry_id, fields)

    def _ackable(self, entry_id: bytes, fields: dict[bytes, bytes]) -> AckableMessage:
        data = fields[b"data"]
        try:
            task_id = self.formatter.loads(message=data).task_id
        except Exception:  # malformed: taskiq logs and acknowledges it, nothing to track
            task_id = ""
        self._in_hand[entry_id] = task_id
        return AckableMessage(data=data, ack=self._ack_callback(entry_id, task_id))

    def _ack_callback(self, entry_id: bytes, task_id: str) -> Callable[[], Awaitable[None]]:
        async def ack() -> None:
            self._in_hand.pop(entry_id, None)
            if task_id in self._failed_tasks:
                # Not acknowledged: once idle long enough, this entry is reclaimed and retried.
                self._failed_tasks.discard(task_id)
                logger.warning("taskiq: task %s failed; it will be retried", task_id)
                return
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    pipe = redis.pipeline(transaction=False)
                    pipe.xack(self.queue_name, self.consumer_group_name, entry_id)
                    pipe.xdel(self.queue_name, entry_id)
                    await pipe.execute()
            except REDIS_ERRORS:
                # The task is done and recorded; a redelivery will find it processed and skip it.
                logger.warning("taskiq: could not acknowledge %s", entry_id, exc_info=True)

        return ack

    async def _reclaim(self, redis: Redis) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Take over entries idle for `reclaim_idle_seconds` (their worker died or lost Redis)."""
        response: Any = await redis.xautoclaim(
            self.queue_name,
            self.consumer_group_name,
            self.consumer_name,
            min_idle_time=self._reclaim_idle_ms,
            start_id="0-0",
            count=self.unacknowledged_batch_size,
        )
        entries: list[tuple[bytes, dict[bytes, bytes] | None]] = list(response[1])
        if not entries:
            return []
        pending: list[dict[str, Any]] = await redis.xpending_range(
            self.queue_name,
            self.consumer_group_name,
            min=entries[0][0],
            max=entries[-1][0],
            count=len(entries) * 2,
            consumername=self.consumer_name,
        )
        deliveries: dict[bytes, int] = {
            row["message_id"]: int(row["times_delivered"]) for row in pending
        }
        usable: list[tuple[bytes, dict[bytes, bytes]]] = []
        for entry_id, fields in entries:
            if not fields or b"data" not in fields:
                await self._drop(redis, entry_id)
            elif deliveries.get(entry_id, 0) > self._max_deliveries:
                await redis.xadd(self.dead_stream, {b"data": fields[b"data"], b"id": entry_id})
                await self._drop(redis, entry_id)
                logger.error(
                    "taskiq: entry %s failed %d times; moved to %s",
                    entry_id,
                    self._max_deliveries,
                    self.dead_stream,
                )
            else:
                usable.append((entry_id, fields))
        if usable:
            logger.info("taskiq: reclaimed %d abandoned task(s)", len(usable))
        return usable

    async def _drop(self, redis: Redis, entry_id: bytes) -> None:
        await redis.xack(self.queue_name, self.consumer_group_name, entry_id)
        await redis.xdel(self.queue_name, entry_id)

    async def _refresh_in_hand(self) -> None:
        """Keep the entries this process holds fresh, so that no other worker reclaims them."""
        interval = self._reclaim_idle_ms / 3000
        while True:
            await asyncio.sleep(interval)
            held: list[bytes | str | int | memoryview[int]] = list(self._in_hand)
            if not held:
                continue
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    await redis.xclaim(
                        self.queue_name,
                        self.consumer_group_name,
                        self.consumer_name,
                        min_idle_time=0,
                        message_ids=held,
                        justid=True,
                    )
            except REDIS_ERRORS as exc:
                logger.debug("taskiq: refresh of held tasks failed: %r", exc)


class _LeaveFailedTasksPending(TaskiqMiddleware):
    """Tells the broker which tasks raised, so their entries stay pending for a retry."""

    def __init__(self, broker: ReliableStreamBroker) -> None:
        super().__init__()
        self._reliable_broker = broker

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        self._reliable_broker.leave_pending(message.task_id)


def create_broker(
    *, redis: RedisSettings, settings: TaskQueueSettings, max_connections: int = 20
) -> ReliableStreamBroker:
    return ReliableStreamBroker(redis=redis, settings=settings, max_connections=max_connections)
