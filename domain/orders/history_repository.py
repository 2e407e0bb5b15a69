"""An order's history in SQL: `order_events`, appended under the order's row lock, read by owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Insert, Table, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from domain.orders.models import Order, OrderEvent
from domain.orders.status import OrderEventKind, OrderStatus
from domain.users.roles import Role

_EVENTS = cast(Table, OrderEvent.__table__)


@dataclass(frozen=True, slots=True)
class OrderEventRow:
    """One event of an order's history (a row of `order_events`)."""

    order_id: uuid.UUID
    seq: int
    kind: OrderEventKind
    status: OrderStatus
    previous_status: OrderStatus | None
    at: datetime
    correlation_id: str | None
    # Who made the change (null: the system) and the note it carried.
    actor_user_id: int | None = None
    actor_role: Role | None = None
    note: str | None = None


def _next_event() -> Insert:
    """INSERT the order's next event, numbered max(seq) + 1; RETURNING the event.

    The caller holds the order's row lock, so no other transaction appends to this order meanwhile;
    and as a statement of its own (READ COMMITTED), it sees every event committed before the lock.
    """
    fields = (
        "kind",
        "status",
        "previous_status",
        "at",
        "correlation_id",
        "actor_user_id",
        "actor_role",
        "note",
    )
    order_id = bindparam("order_id", type_=_EVENTS.c.order_id.type)
    next_seq = (
        select(func.coalesce(func.max(_EVENTS.c.seq), 0) + 1)
        .where(_EVENTS.c.order_id == order_id)
        .scalar_subquery()
    )
    return (
        insert(_EVENTS)
        .from_select(
            ["order_id", "seq", *fields],
            select(
                order_id,
                next_seq,
                *(bindparam(name, type_=_EVENTS.c[name].type) for name in fields),
            ),
        )
        .returning(*_EVENTS.c)
    )


_APPEND = _next_event()


class OrderEventRepository:
    """An order's history (async: the API side)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(
        self,
        *,
        order_id: uuid.UUID,
        kind: OrderEventKind,
        status: OrderStatus,
        previous_status: OrderStatus | None,
        at: datetime,
        correlation_id: str | None,
        actor_user_id: int | None,
        actor_role: Role | None,
        note: str | None,
    ) -> OrderEventRow:
        """Append to the history of an order whose row this transaction has locked."""
        params = {
            "order_id": order_id,
            "kind": kind,
            "status": status,
            "previous_status": previous_status,
            "at": at,
            "correlation_id": correlation_id,
            "actor_user_id": actor_user_id,
            "actor_role": actor_role,
            "note": note,
        }
        return OrderEventRow(**(await self._session.execute(_APPEND, params)).one()._mapping)

    async def owned_after(
        self, *, order_id: uuid.UUID, user_id: int | None, after_seq: int = 0
    ) -> Sequence[OrderEvent]:
        """The events of `user_id`'s order after `after_seq`, oldest first; none if not theirs.
        `user_id` None: whoever owns it (staff)."""
        stmt = select(OrderEvent).where(OrderEvent.order_id == order_id, OrderEvent.seq > after_seq)
        if user_id is not None:
            stmt = stmt.join(Order, Order.id == OrderEvent.order_id).where(Order.user_id == user_id)
        return (await self._session.execute(stmt.order_by(OrderEvent.seq))).scalars().all()

    async def owned_of(
        self, *, order_ids: Sequence[uuid.UUID], user_id: int | None
    ) -> Sequence[OrderEvent]:
        """The events of those of `order_ids` that are `user_id`'s (None: anyone's), by order,
        oldest first."""
        stmt = select(OrderEvent).where(OrderEvent.order_id.in_(order_ids))
        if user_id is not None:
            stmt = stmt.join(Order, Order.id == OrderEvent.order_id).where(Order.user_id == user_id)
        stmt = stmt.order_by(OrderEvent.order_id, OrderEvent.seq)
        return (await self._session.execute(stmt)).scalars().all()


class ProcessedOrderHistory:
    """The worker's side of the history (sync): the PROCESSED event, in the task's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append_processed(
        self, *, order_id: uuid.UUID, at: datetime, correlation_id: str | None
    ) -> tuple[int, OrderEventRow] | None:
        """Lock the order, append PROCESSED with its current status; (owner, event), or None if the
        order no longer exists."""
        locked = self._session.execute(
            select(Order.user_id, Order.status).where(Order.id == order_id).with_for_update()
        ).first()
        if locked is None:
            return None
        user_id, status = locked
        params = {
            "order_id": order_id,
            "kind": OrderEventKind.PROCESSED,
            "status": status,
            "previous_status": None,
            "at": at,
            "correlation_id": correlation_id,
            # The system did it: no actor, no note.
            "actor_user_id": None,
            "actor_role": None,
            "note": None,
        }
        return user_id, OrderEventRow(**self._session.execute(_APPEND, params).one()._mapping)
