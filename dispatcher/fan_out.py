"""Order events from the `webhooks` queue into deliveries, many messages per transaction.

Each message waits (its consumer task open) while a batcher fans out, in one unit of work, every
message that arrived meanwhile; only after that commit are they acknowledged. A dispatcher killed at
any point loses nothing: RabbitMQ redelivers what was not acknowledged, and fanning out twice makes
nothing twice (`domain.webhooks.fan_out.fan_out`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.uow import UnitOfWork
from domain.webhooks.fan_out import PublishedEvent, fan_out
from infra.retry import Outage, pause
from infra.tracing import current_traceparent

logger = logging.getLogger("webhooks")

# Messages fanned out in one transaction at most (the prefetch bounds them too).
BATCH = 200
# Batchers at work at once: one fans out while the other's messages gather. Each locks its orders'
# cursors in order_id order, so two batches never deadlock on them.
BATCHERS = 2


@dataclass(frozen=True, slots=True)
class _Waiting:
    message: AbstractIncomingMessage
    event: PublishedEvent
    done: asyncio.Future[None]


class FanOut:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        cursors_kept_for: timedelta,
        stopping: asyncio.Event,
        made: Callable[[], None],
        database_errors: tuple[type[BaseException], ...],
    ) -> None:
        self._sessions = sessions
        self._cursors_kept_for = cursors_kept_for
        self._stopping = stopping
        self._made = made
        self._database_errors = database_errors
        self._waiting: asyncio.Queue[_Waiting] = asyncio.Queue()
        self.in_hand: set[asyncio.Task[Any]] = set()
        self._outage = Outage(
            logger, failing="webhooks: fan-out failing", recovered="webhooks: fan-out resumed"
        )

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """The queue's consumer: one call per message, returning once it is fanned out and acked
        (or handed back)."""
        task = asyncio.current_task()
        if task is not None:
            self.in_hand.add(task)
        try:
            try:
                body = json.loads(message.body)
                event = PublishedEvent(
                    order_id=uuid.UUID(str(body["order_id"])),
                    seq=int(body["seq"]),
                    traceparent=current_traceparent(),
                )
            except (ValueError, KeyError, TypeError):
                logger.error(
                    "message %s: malformed order event, rejected to the dead-letter queue",
                    message.message_id,
                )
                await message.reject(requeue=False)
                return
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.put_nowait(_Waiting(message, event, done))
            await done
        except Exception:
            # Typically the channel closed under us: the unacknowledged message is redelivered.
            logger.exception("message %s: fan-out failed", message.message_id)
        finally:
            if task is not None:
                self.in_hand.discard(task)

    async def run(self) -> None:
        """Fan out what waits, batch after batch, until cancelled (after the drain)."""
        await asyncio.gather(*(self._batches() for _ in range(BATCHERS)))

    async def _batches(self) -> None:
        while True:
            batch = [await self._waiting.get()]
            while len(batch) < BATCH and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            try:
                await self._fan_out(batch)
            except Exception:
                # Unacknowledged, the messages are redelivered (and fanning out again is harmless).
                logger.exception("%d message(s): fan-out failed", len(batch))
            finally:
                for waiting in batch:
                    if not waiting.done.done():
                        waiting.done.set_result(None)

    async def _fan_out(self, batch: list[_Waiting]) -> None:
        while True:
            try:
                async with UnitOfWork(self._sessions) as uow:
                    made = await fan_out(
                        uow=uow,
                        events=[waiting.event for waiting in batch],
                        cursors_kept_for=self._cursors_kept_for,
                    )
            except self._database_errors as exc:
                delay = self._outage.failed(exc)
                if self._stopping.is_set():
                    await _settle(batch, acknowledge=False)
                    return
                await pause(delay, self._stopping)
            else:
                self._outage.recovered()
                break
        await _settle(batch, acknowledge=True)
        if made:
            logger.debug("%d delivery(ies) from %d message(s)", made, len(batch))
            self._made()


async def _settle(batch: list[_Waiting], *, acknowledge: bool) -> None:
    """Acknowledge the messages (fanned out), or hand them back to the queue."""
    for waiting in batch:
        try:
            if acknowledge:
                await waiting.message.ack()
            else:
                await waiting.message.nack(requeue=True)
        except Exception:
            # The channel closed under us: the message is redelivered.
            logger.warning("message %s: not settled", waiting.message.message_id, exc_info=True)
