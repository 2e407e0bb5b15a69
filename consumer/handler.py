"""What the consumer does with one `new_order` message: validate, enqueue the task, then acknowledge."""

from __future__ import annotations

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker

from consumer.settings import ConsumerSettings
from domain.orders.events import PROCESS_NEW_ORDER_TASK, NewOrderEvent
from infra.correlation import correlation_id
from infra.metrics import EVENTS_CONSUMED
from infra.retry import Outage, pause
from infra.taskq import REDIS_ERRORS, ReliableStreamBroker
from infra.tracing import annotate

logger = logging.getLogger("consumer")


class NewOrderHandler:
    def __init__(
        self, *, broker: ReliableStreamBroker, settings: ConsumerSettings, stopping: asyncio.Event
    ) -> None:
        self._broker = broker
        self._settings = settings
        self._stopping = stopping
        self._in_hand: set[asyncio.Task[object]] = set()

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Acknowledge only after the task is safely in Redis; a malformed message is dead-lettered.

        Redis unreachable: the enqueue is retried here with a capped backoff (the prefetch bounds how
        many messages wait like this), rather than requeued at once, which would spin and spend the
        queue's delivery limit. Only when shutting down is a message still waiting handed back.
        """
        task = asyncio.current_task()
        if task is not None:
            self._in_hand.add(task)
        try:
            await self._handle(message)
        except Exception:
            # Typically the channel closed under us: the unacknowledged message is redelivered.
            logger.exception("message %s: handling failed", message.message_id)
        finally:
            if task is not None:
                self._in_hand.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            event = NewOrderEvent.model_validate_json(message.body)
        except ValidationError as exc:
            logger.error(
                "message %s: malformed new_order event, rejected to the dead-letter queue: %s",
                message.message_id,
                exc.errors(include_url=False, include_input=False),
            )
            await message.reject(requeue=False)
            EVENTS_CONSUMED.labels("rejected").inc()
            return
        token = correlation_id.set(event.correlation_id)
        annotate(order_id=event.order_id, user_id=event.user_id, event_id=event.event_id)
        try:
            # taskiq's tracing middleware puts the current trace context into the task's labels.
            if await self._enqueue(event):
                await message.ack()
                EVENTS_CONSUMED.labels("enqueued").inc()
                logger.info(
                    "order %s: task enqueued (event %s, correlation_id=%s)",
                    event.order_id,
                    event.event_id,
                    event.correlation_id,
                )
            else:
                await message.nack(requeue=True)
                EVENTS_CONSUMED.labels("returned").inc()
                logger.info("order %s: handed back to the queue on shutdown", event.order_id)
        finally:
            correlation_id.reset(token)

    async def _enqueue(self, event: NewOrderEvent) -> bool:
        kicker: AsyncKicker[..., None] = AsyncKicker(
            task_name=PROCESS_NEW_ORDER_TASK,
            broker=self._broker,
            labels={"correlation_id": event.correlation_id or "", "event_id": str(event.event_id)},
        )
        outage = Outage(
            logger,
            failing=f"order {event.order_id}: enqueue failed",
            recovered=f"order {event.order_id}: enqueued",
            max_delay=self._settings.retry_backoff_max_seconds,
        )
        while True:
            try:
                async with asyncio.timeout(self._settings.enqueue_timeout_seconds):
                    await kicker.kiq(event.model_dump(mode="json"))
            except (SendTaskError, *REDIS_ERRORS, TimeoutError) as exc:
                delay = outage.failed(exc.__cause__ or exc)
                if self._stopping.is_set():
                    return False
                await pause(delay, self._stopping)
            else:
                outage.recovered()
                return True

    async def drain(self, grace_seconds: float) -> None:
        """Wait for the messages in hand; past `grace_seconds`, cancel them (they are redelivered)."""
        if not self._in_hand:
            return
        logger.info("finishing %d message(s) in hand", len(self._in_hand))
        _, pending = await asyncio.wait(set(self._in_hand), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
