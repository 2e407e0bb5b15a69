"""Webhook fan-out: each published order event becomes one delivery per endpoint subscribed to it
when it was committed, in the order's `seq` order, for a whole batch of events in one unit of work.

Every function takes the caller's unit of work and never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from domain.orders.models import OrderEvent
from domain.orders.schemas import OrderEventOut, OrderOut
from domain.orders.status import OrderEventKind
from domain.uow import UnitOfWork
from domain.webhooks.schemas import DeliveryStatus, WebhookEvent
from infra.db import utcnow

EVENT_OF_KIND = {
    OrderEventKind.CREATED: WebhookEvent.ORDER_CREATED,
    OrderEventKind.STATUS_CHANGED: WebhookEvent.ORDER_STATUS_CHANGED,
    OrderEventKind.PROCESSED: WebhookEvent.ORDER_PROCESSED,
}


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """An order event as the relay published it: the order, the event's `seq`, and the trace the
    event was published under."""

    order_id: uuid.UUID
    seq: int
    traceparent: str | None = None


def wire_time(at: datetime) -> str:
    """A time as the payloads and the delivery log write it: ISO 8601, `Z` for UTC."""
    return at.isoformat().replace("+00:00", "Z")


def _payload(order: OrderOut, event: OrderEvent, event_type: WebhookEvent) -> dict[str, Any]:
    data = order.model_dump(mode="json")
    data["event"] = OrderEventOut.model_validate(event).model_dump(mode="json")
    return {"type": str(event_type), "timestamp": wire_time(event.at), "data": data}


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
