"""The `new_order` event: its name, its body (shared by the publisher and the consumer) and the task.

The body travels as JSON through the outbox, RabbitMQ and the taskiq stream; one schema checks it at
every step, so a field renamed on one side fails loudly instead of half-working.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from domain.events.repository import OutboxRow
from domain.orders.models import Order
from domain.orders.schemas import Money
from infra.correlation import correlation_id
from infra.tracing import annotate, current_traceparent

NEW_ORDER = "new_order"
# The taskiq task the consumer enqueues by name: the consumer never imports the worker.
PROCESS_NEW_ORDER_TASK = "orders.process_new_order"


class NewOrderEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID
    event: Literal["new_order"] = "new_order"
    order_id: uuid.UUID
    user_id: int
    total_price: Money
    created_at: AwareDatetime
    correlation_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


def new_order_event(order: Order) -> OutboxRow:
    """The order's `new_order` event, as it goes into the outbox with the order (in the same
    statement, `OrderRepository.add`): the event exists if and only if the order does.

    Publishing is the relay's job, after the commit. The correlation id is the current unit of
    work's (the HTTP request's), and so is the trace context the event is published under.
    """
    event = NewOrderEvent(
        event_id=uuid.uuid4(),
        order_id=order.id,
        user_id=order.user_id,
        total_price=order.total_price,
        created_at=order.created_at,
        correlation_id=correlation_id.get(),
    )
    annotate(order_id=order.id, user_id=order.user_id, event_id=event.event_id)
    return OutboxRow(
        id=event.event_id,
        event_type=NEW_ORDER,
        payload=event.model_dump(mode="json"),
        created_at=event.created_at,
        traceparent=current_traceparent(),
    )
