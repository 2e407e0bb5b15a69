"""Webhook deliveries, the dispatcher's side: order events fanned out to deliveries, leased for an
attempt, and the attempts' outcomes recorded, each for a whole batch in one unit of work.

Every function takes the caller's unit of work and never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Row

from domain.orders.models import OrderEvent
from domain.orders.schemas import OrderEventOut, OrderOut
from domain.orders.status import OrderEventKind
from domain.uow import UnitOfWork
from domain.webhooks import rules
from domain.webhooks.delivery_repository import AttemptRecord, ClaimedDelivery
from domain.webhooks.schemas import DeliveryStatus, WebhookEvent
from infra.db import utcnow
from infra.settings import WebhookSettings

# A lease outlives the attempt's timeout by this much: the attempt's outcome is recorded within it.
LEASE_MARGIN_SECONDS = 2.0

EVENT_OF_KIND = {
    OrderEventKind.CREATED: WebhookEvent.ORDER_CREATED,
    OrderEventKind.STATUS_CHANGED: WebhookEvent.ORDER_STATUS_CHANGED,
    OrderEventKind.PROCESSED: WebhookEvent.ORDER_PROCESSED,
}


# --- fan-out: order events → deliveries ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """An order event as the relay published it: the order, the event's `seq`, and the trace the
    event was published under."""

    order_id: uuid.UUID
    seq: int
    traceparent: str | None = None


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _payload(order: OrderOut, event: OrderEvent, event_type: WebhookEvent) -> dict[str, Any]:
    data = order.model_dump(mode="json")
    data["event"] = OrderEventOut.model_validate(event).model_dump(mode="json")
    return {"type": str(event_type), "timestamp": _iso(event.at), "data": data}


def new_delivery_id() -> str:
    """A webhook-id: unique per event and endpoint, kept on every retry."""
    return "msg_" + uuid.uuid4().hex


async def fan_out(
    *, uow: UnitOfWork, events: Sequence[PublishedEvent], cursors_kept_for: timedelta
) -> int:
    """Turn the orders' events up to each `seq` given that are not fanned out yet into deliveries,
    one per enabled endpoint subscribed to the event's type and existing when it happened; the
    number made.

    Events arrive in any order and more than once (RabbitMQ redelivers; the relay publishes at least
    once): each order's cursor makes this idempotent and keeps the events of one order in `seq`
    order, whichever message arrives first. `data` is the order as GET /orders/{id}/ answers it
    when the event is fanned out (moments after its commit), with the event itself beside it.
    `cursors_kept_for`: the retention of the cursors (a purged cursor is recreated past the events
    older than that).
    """
    latest: dict[uuid.UUID, int] = {}
    traces: dict[tuple[uuid.UUID, int], str | None] = {}
    for event in events:
        latest[event.order_id] = max(latest.get(event.order_id, 0), event.seq)
        traces[event.order_id, event.seq] = event.traceparent
    repository = uow.webhook_deliveries
    done = await repository.lock_cursors(
        order_ids=sorted(latest), horizon=utcnow() - cursors_kept_for
    )
    behind = {order_id: seq for order_id, seq in latest.items() if seq > done[order_id]}
    if not behind:
        return 0
    found = await repository.events(order_ids=list(behind), up_to_seq=max(behind.values()))
    due = [e for e in found if done[e.order_id] < e.seq <= behind.get(e.order_id, 0)]
    if not due:
        return 0
    await repository.set_cursors({event.order_id: event.seq for event in due})
    subscribers = await repository.subscribers()
    if not subscribers:
        return 0
    orders = {
        order_id: OrderOut.model_validate(row)
        for order_id, row in (await repository.orders(list(behind))).items()
    }

    def traceparent_of(order_event: OrderEvent) -> str | None:
        """The trace of the event's own message, else of the one that fanned it out."""
        own = traces.get((order_event.order_id, order_event.seq))
        return own or traces[order_event.order_id, latest[order_event.order_id]]

    rows = _deliveries(due, orders=orders, subscribers=subscribers, traceparent_of=traceparent_of)
    await repository.add(rows)
    return len(rows)


def _deliveries(
    events: Sequence[OrderEvent],
    *,
    orders: dict[uuid.UUID, OrderOut],
    subscribers: Sequence[Row[uuid.UUID, list[str], datetime]],
    traceparent_of: Callable[[OrderEvent], str | None],
) -> list[dict[str, Any]]:
    """The rows of new deliveries: each event to each endpoint subscribed to its type and existing
    when it happened."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for event in events:
        order = orders.get(event.order_id)
        if order is None:
            continue
        event_type = EVENT_OF_KIND[event.kind]
        payload: dict[str, Any] | None = None
        for endpoint_id, subscribed, created_at in subscribers:
            if event_type not in subscribed or created_at > event.at:
                continue
            payload = payload or _payload(order, event, event_type)
            rows.append(
                {
                    "id": new_delivery_id(),
                    "endpoint_id": endpoint_id,
                    "order_id": event.order_id,
                    "seq": event.seq,
                    "event_type": str(event_type),
                    "payload": payload,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": [],
                    "tries": 0,
                    "next_attempt_at": now,
                    "leased_until": None,
                    "traceparent": traceparent_of(event),
                    "created_at": now,
                    "finished_at": None,
                }
            )
    return rows


# --- attempts ------------------------------------------------------------------------------------------


def body_of(delivery: ClaimedDelivery) -> bytes:
    """The bytes sent (and signed): the same payload on every attempt."""
    return orjson.dumps(delivery.payload)


def signing_secrets(delivery: ClaimedDelivery, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [delivery.secret]
    if (
        delivery.previous_secret
        and delivery.previous_secret_until is not None
        and delivery.previous_secret_until > now
    ):
        found.append(delivery.previous_secret)
    return found


async def claim_due(
    *,
    uow: UnitOfWork,
    settings: WebhookSettings,
    limit: int,
    per_endpoint: int,
    saturated: Sequence[uuid.UUID],
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries for one attempt each. A lease outlives the attempt's
    timeout; a dispatcher that dies mid-attempt leaves it to run out, and the delivery is attempted
    again, with the same webhook-id."""
    now = utcnow()
    return await uow.webhook_deliveries.claim(
        now=now,
        lease_until=now + timedelta(seconds=settings.timeout_seconds + LEASE_MARGIN_SECONDS),
        limit=limit,
        per_endpoint=per_endpoint,
        saturated=saturated,
    )


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt saw: the answer's status (None: no answer), its first kilobyte, and why
    there was none."""

    response_status: int | None
    duration_ms: int
    error: str | None = None
    response_body: str | None = None
    retry_after: str | None = None
    # The URL broke a rule against request forgery at send time: failed, never retried.
    refused: bool = False


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt made: its delivery (and lease), when it started, what it saw."""

    delivery: ClaimedDelivery
    started_at: datetime
    result: AttemptResult


@dataclass(frozen=True, slots=True)
class Recorded:
    """An attempt as recorded: the delivery's new status (None: not recorded, the lease was lost or
    the endpoint deleted), and whether the endpoint was disabled by it (and why)."""

    status: str | None
    verdict: rules.Verdict
    disabled: str | None = None


async def record_attempts(
    *, uow: UnitOfWork, settings: WebhookSettings, attempts: Sequence[Attempt]
) -> list[Recorded]:
    """Log each attempt once and decide what follows: succeeded; retried per the schedule
    (connection errors, timeouts, 408, 429 with its Retry-After when longer, 5xx); or failed (any
    other 4xx, 3xx, the schedule spent). 410 also disables the endpoint, and so do
    WEBHOOK_DISABLE_AFTER_FAILURES failed deliveries in a row. One result per attempt, in order."""
    now = utcnow()
    verdicts: list[rules.Verdict] = []
    records: list[AttemptRecord] = []
    for attempt in attempts:
        result = attempt.result
        verdict = rules.Verdict.FAILED if result.refused else rules.verdict(result.response_status)
        following = rules.after_attempt(
            outcome=verdict,
            tries=attempt.delivery.tries + 1,
            schedule=settings.retry_schedule,
            now=now,
            retry_after=rules.retry_after_seconds(result.retry_after, now=now),
        )
        entry = {
            "at": _iso(attempt.started_at),
            "response_status": result.response_status,
            "duration_ms": result.duration_ms,
            "error": result.error,
            "response_body": result.response_body,
        }
        verdicts.append(verdict)
        records.append(
            AttemptRecord(
                delivery_id=attempt.delivery.id,
                leased_until=attempt.delivery.leased_until,
                attempt=orjson.dumps(entry).decode(),
                status=following.status,
                next_attempt_at=following.next_attempt_at,
                finished_at=None if following.status == DeliveryStatus.PENDING else now,
            )
        )
    written = await uow.webhook_deliveries.record_attempts(records)
    return [
        await _after_recorded(uow, settings, attempt, record, verdict, now, written)
        for attempt, record, verdict in zip(attempts, records, verdicts, strict=True)
    ]


async def _after_recorded(
    uow: UnitOfWork,
    settings: WebhookSettings,
    attempt: Attempt,
    record: AttemptRecord,
    verdict: rules.Verdict,
    now: datetime,
    written: dict[str, uuid.UUID],
) -> Recorded:
    """What a recorded attempt does to its endpoint: a success resets its count of failed
    deliveries, a failed delivery counts (and may disable it), 410 disables it."""
    endpoint_id = written.get(record.delivery_id)
    if endpoint_id is None:
        return Recorded(status=None, verdict=verdict)
    disabled: str | None = None
    if record.status == DeliveryStatus.SUCCEEDED:
        # Most endpoints have no failure to forget: no statement for them (a failure counted
        # since the lease was taken is reset by the next success).
        if attempt.delivery.consecutive_failures:
            await uow.webhooks.endpoint_succeeded(endpoint_id)
    elif record.status == DeliveryStatus.FAILED:
        if verdict is rules.Verdict.GONE:
            reason = "the endpoint answered 410 Gone"
            if await uow.webhooks.disable(endpoint_id=endpoint_id, reason=reason, at=now):
                disabled = reason
        if await uow.webhooks.endpoint_failed(
            endpoint_id=endpoint_id, disable_after=settings.disable_after_failures, at=now
        ):
            disabled = f"{settings.disable_after_failures} consecutive failed deliveries"
    return Recorded(status=record.status, verdict=verdict, disabled=disabled)


async def purge_succeeded(*, uow: UnitOfWork, settings: WebhookSettings, limit: int) -> int:
    """Delete up to `limit` succeeded deliveries older than WEBHOOK_LOG_RETENTION_DAYS."""
    before = utcnow() - timedelta(days=settings.log_retention_days)
    return await uow.webhook_deliveries.purge_succeeded_before(before=before, limit=limit)
