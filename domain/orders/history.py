"""An order's history: every change, numbered per order, written in the transaction of the change
and announced to live subscribers once (and only if) that transaction commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from domain.orders.errors import OrderNotFound
from domain.orders.history_repository import OrderEventRow, ProcessedOrderHistory
from domain.orders.models import Order
from domain.orders.records import OrderRecord
from domain.orders.schemas import OrderChange, OrderEventOut
from domain.orders.status import OrderEventKind, OrderStatus
from domain.uow import UnitOfWork
from domain.users.roles import Role
from infra.correlation import correlation_id
from infra.db import utcnow
from infra.live import LiveMessage


def created(order: Order) -> OrderEventRow:
    """The first event of a new order, written with the order itself (`OrderRepository.add`)."""
    return OrderEventRow(
        order_id=order.id,
        seq=1,
        kind=OrderEventKind.CREATED,
        status=order.status,
        previous_status=None,
        at=order.created_at,
        correlation_id=correlation_id.get(),
        # Placing an order is a customer's act, whoever places it.
        actor_user_id=order.user_id,
        actor_role=Role.CUSTOMER,
    )


async def record_status_change(
    *,
    uow: UnitOfWork,
    order: OrderRecord,
    previous_status: OrderStatus,
    actor_id: int,
    as_staff: bool,
    note: str | None,
) -> OrderEventRow:
    """Append STATUS_CHANGED to the history of `order`, which this unit of work has row-locked:
    who did it (`actor_id`, as staff or as a customer) and the note they gave."""
    return await uow.order_events.append(
        order_id=order.id,
        kind=OrderEventKind.STATUS_CHANGED,
        status=order.status,
        previous_status=previous_status,
        at=order.updated_at,
        correlation_id=correlation_id.get(),
        actor_user_id=actor_id,
        actor_role=Role.STAFF if as_staff else Role.CUSTOMER,
        note=note,
    )


def live_message(*, uow: UnitOfWork, user_id: int, event: OrderEventRow) -> LiveMessage | None:
    """The event as every API process's live subscribers get it, to be published once (and only
    if) it commits; None when this unit of work announces nothing."""
    if uow.live is None:
        return None
    change = OrderChange(
        order_id=event.order_id, user_id=user_id, event=OrderEventOut.model_validate(event)
    )
    return uow.live.message(change)


def announce(*, uow: UnitOfWork, message: LiveMessage) -> None:
    """Publish `message` after the commit, on its own (when no other Redis call carries it)."""
    live = uow.live
    if live is None:
        return

    async def publish() -> None:
        await live.publish(message.payload)

    uow.after_commit(publish)


def record_processed(*, session: Session, order_id: uuid.UUID) -> OrderChange | None:
    """Append PROCESSED in the worker's transaction (the one recording the event as processed), so a
    redelivered task writes it once. None when the order no longer exists. The caller announces the
    returned change after its commit."""
    appended = ProcessedOrderHistory(session).append_processed(
        order_id=order_id, at=utcnow(), correlation_id=correlation_id.get()
    )
    if appended is None:
        return None
    user_id, row = appended
    return OrderChange(order_id=order_id, user_id=user_id, event=OrderEventOut.model_validate(row))


def _seen(event: OrderEventOut, *, as_staff: bool) -> OrderEventOut:
    """Privacy: staff see who did what; a customer sees a staff action's role and note only."""
    return event if as_staff else event.seen_by_customer()


async def events_after(
    *,
    uow: UnitOfWork,
    user_id: int,
    order_id: uuid.UUID,
    after_seq: int,
    as_staff: bool = False,
) -> list[OrderEventOut]:
    """`user_id`'s order's events after `after_seq`, oldest first (none if the order is not theirs;
    `as_staff`: any order's, with every actor)."""
    rows = await uow.order_events.owned_after(
        order_id=order_id, user_id=None if as_staff else user_id, after_seq=after_seq
    )
    return [_seen(OrderEventOut.model_validate(row), as_staff=as_staff) for row in rows]


async def order_history(
    *, uow: UnitOfWork, user_id: int, order_id: uuid.UUID, as_staff: bool = False
) -> list[OrderEventOut]:
    """The whole history, oldest first; `OrderNotFound` unless the order is `user_id`'s (or the
    caller acts `as_staff`).

    Every order has at least its CREATED event (the migration gave one to older orders), so an
    empty answer means "no such order of yours", in one query.
    """
    events = await events_after(
        uow=uow, user_id=user_id, order_id=order_id, after_seq=0, as_staff=as_staff
    )
    if not events:
        raise OrderNotFound
    return events


async def order_histories(
    *, uow: UnitOfWork, user_id: int, order_ids: Sequence[uuid.UUID], as_staff: bool = False
) -> dict[uuid.UUID, list[OrderEventOut]]:
    """The histories of several of `user_id`'s orders in one query (GraphQL's `Order.history` of a
    page of orders); an order that is not theirs has none (`as_staff`: every order has its own)."""
    histories: dict[uuid.UUID, list[OrderEventOut]] = {order_id: [] for order_id in order_ids}
    owner = None if as_staff else user_id
    for row in await uow.order_events.owned_of(order_ids=order_ids, user_id=owner):
        histories[row.order_id].append(_seen(OrderEventOut.model_validate(row), as_staff=as_staff))
    return histories
