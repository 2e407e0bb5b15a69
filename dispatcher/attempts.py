"""Attempts: due deliveries leased and sent, each in a task of its own, bounded in all and per
endpoint, so a hanging endpoint only ever holds its own slots; their outcomes recorded in batches.

A slot is an HTTP request in flight: it is given back when the answer (or the timeout) comes, and
the outcome is recorded meanwhile, with others, by the recorder. The delivery stays leased until
that record, so nothing takes it twice, and a later event of its order stays behind it. An attempt
lost with its process (SIGKILL) is never logged and, when its lease runs out, is made again with
the same webhook-id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from typing import Any

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatcher.sender import Sender
from dispatcher.settings import DispatcherSettings
from domain.uow import UnitOfWork
from domain.webhooks import deliveries
from domain.webhooks.delivery_repository import ClaimedDelivery
from infra.db import utcnow
from infra.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS, WEBHOOK_ENDPOINTS_DISABLED
from infra.retry import Outage, pause
from infra.settings import WebhookSettings
from infra.tracing import context_from_traceparent

logger = logging.getLogger("webhooks")
tracer = trace.get_tracer(__name__)

# Deliveries leased in one claim at most, and outcomes recorded in one transaction at most.
CLAIM_BATCH = 500
RECORD_BATCH = 500

_Recording = tuple[deliveries.Attempt, "asyncio.Future[deliveries.Recorded | None]"]


class Attempts:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        settings: WebhookSettings,
        limits: DispatcherSettings,
        stopping: asyncio.Event,
        database_errors: tuple[type[BaseException], ...],
    ) -> None:
        self.sessions = sessions
        self._sender = sender
        self._settings = settings
        self._limits = limits
        self._stopping = stopping
        self._database_errors = database_errors
        self.wake = asyncio.Event()
        # Requests in flight, by endpoint.
        self._sending: Counter[uuid.UUID] = Counter()
        # Attempts not yet recorded (sending, or waiting for the recorder).
        self.in_hand: set[asyncio.Task[Any]] = set()
        self._outcomes: asyncio.Queue[_Recording] = asyncio.Queue()
        self._outage = Outage(
            logger, failing="webhooks: leasing failing", recovered="webhooks: leasing resumed"
        )

    async def run_leasing(self) -> None:
        """Lease due deliveries while there is room, until stopping."""
        while not self._stopping.is_set():
            room = min(self._limits.max_in_flight - self._sending.total(), CLAIM_BATCH)
            claimed: list[ClaimedDelivery] = []
            if room > 0:
                saturated = [
                    endpoint
                    for endpoint, count in self._sending.items()
                    if count >= self._limits.max_in_flight_per_endpoint
                ]
                try:
                    async with UnitOfWork(self.sessions) as uow:
                        claimed = await deliveries.claim_due(
                            uow=uow,
                            settings=self._settings,
                            limit=room,
                            per_endpoint=self._limits.max_in_flight_per_endpoint,
                            saturated=saturated,
                        )
                except self._database_errors as exc:
                    await pause(self._outage.failed(exc), self._stopping)
                    continue
                self._outage.recovered()
                for delivery in claimed:
                    self._start(delivery)
            if claimed and len(claimed) >= room:
                continue  # more may be due right now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self._limits.poll_interval_seconds)
            self.wake.clear()

    def _start(self, delivery: ClaimedDelivery) -> None:
        self._sending[delivery.endpoint_id] += 1
        task = asyncio.create_task(self._attempt(delivery), name=f"webhook-{delivery.id}")
        self.in_hand.add(task)
        task.add_done_callback(self.in_hand.discard)

    def _sent(self, endpoint_id: uuid.UUID) -> None:
        self._sending[endpoint_id] -= 1
        if self._sending[endpoint_id] <= 0:
            del self._sending[endpoint_id]
        self.wake.set()

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
            try:
                result = await self._sender.attempt(delivery)
            finally:
                self._sent(delivery.endpoint_id)
            WEBHOOK_DELIVERY_SECONDS.observe(result.duration_ms / 1000)
            if result.response_status is not None:
                span.set_attribute("http.response.status_code", result.response_status)
            done: asyncio.Future[deliveries.Recorded | None] = (
                asyncio.get_running_loop().create_future()
            )
            self._outcomes.put_nowait((deliveries.Attempt(delivery, started_at, result), done))
            recorded = await done
        if recorded is not None:
            _report(delivery, result, recorded)

    async def run_recorder(self) -> None:
        """Record finished attempts, as many as are waiting in one transaction, until cancelled
        (after the drain). A failing database is retried for as long as the leases last; past
        that the outcomes are dropped, and the deliveries attempted again."""
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < RECORD_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            results = await self._record([attempt for attempt, _ in batch])
            for (_, done), recorded in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(recorded)

    async def _record(
        self, attempts: list[deliveries.Attempt]
    ) -> list[deliveries.Recorded] | list[None]:
        deadline = time.monotonic() + self._settings.timeout_seconds
        delay = 0.1
        while True:
            try:
                async with UnitOfWork(self.sessions) as uow:
                    return await deliveries.record_attempts(
                        uow=uow, settings=self._settings, attempts=attempts
                    )
            except self._database_errors as exc:
                if time.monotonic() + delay > deadline:
                    logger.warning("%d outcome(s) not recorded (%r)", len(attempts), exc)
                    return [None] * len(attempts)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


def _report(
    delivery: ClaimedDelivery, result: deliveries.AttemptResult, recorded: deliveries.Recorded
) -> None:
    """Metrics and logs of a recorded attempt."""
    WEBHOOK_DELIVERIES.labels("refused" if result.refused else recorded.verdict.value).inc()
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
