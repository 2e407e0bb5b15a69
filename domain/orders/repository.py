from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Row, Table, delete, func, insert, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from domain.orders.models import IdempotencyKey, Order, OrderEvent
from domain.orders.pagination import Position
from domain.orders.status import OrderEventKind, OrderStatus

_COLUMNS = cast(Table, Order.__table__).c


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, order: Order) -> None:
        """Insert the new order: a plain INSERT, without the ORM's flush machinery (which cost about
        a quarter of a POST /orders/). `order` stays a detached value object."""
        table = cast(Table, Order.__table__)
        await self._session.execute(
            insert(table).values(
                {column.key: getattr(order, column.key) for column in table.columns}
            )
        )

    async def get_owned(self, *, order_id: uuid.UUID, user_id: int) -> Row[Any] | None:
        """The order's columns (a Core row: reads need no ORM object, identity map or flush)."""
        stmt = select(*_COLUMNS).where(_COLUMNS.id == order_id, _COLUMNS.user_id == user_id)
        return (await self._session.execute(stmt)).one_or_none()

    async def get_owned_for_update(self, *, order_id: uuid.UUID, user_id: int) -> Order | None:
        """The order, row-locked until the transaction ends: concurrent changes take turns."""
        stmt = (
            select(Order)
            .where(Order.id == order_id, Order.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def list_for_user(
        self, *, user_id: int, limit: int, after: Position | None
    ) -> Sequence[Row[Any]]:
        """A page, newest first, by a keyset on (created_at, id): an index range scan of
        ix_orders_user_id_created_at_id at any depth."""
        stmt = select(*_COLUMNS).where(_COLUMNS.user_id == user_id)
        if after is not None:
            stmt = stmt.where(tuple_(_COLUMNS.created_at, _COLUMNS.id) < tuple_(*after))
        stmt = stmt.order_by(_COLUMNS.created_at.desc(), _COLUMNS.id.desc()).limit(limit)
        return (await self._session.execute(stmt)).all()


class IdempotencyKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, *, user_id: int, key: str) -> IdempotencyKey | None:
        stmt = select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.idempotency_key == key
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def add(self, record: IdempotencyKey) -> None:
        """Insert; a concurrent insert of the same key waits here for the other transaction, then
        fails with `IntegrityError` if that one committed."""
        self._session.add(record)
        await self._session.flush()

    async def delete_expired(self, *, user_id: int, before: datetime) -> None:
        await self._session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.created_at < before
            )
        )


def _append_event(
    *,
    order_id: uuid.UUID,
    kind: OrderEventKind,
    status: OrderStatus,
    previous_status: OrderStatus | None,
    at: datetime,
    correlation_id: str | None,
) -> Insert:
    """INSERT the order's next event, numbered max(seq) + 1; RETURNING the event.

    The caller holds the order's row lock, so no other transaction appends to this order meanwhile;
    and as a statement of its own (READ COMMITTED), it sees every event committed before the lock.
    """
    next_seq = (
        select(func.coalesce(func.max(OrderEvent.seq), 0) + 1)
        .where(OrderEvent.order_id == order_id)
        .scalar_subquery()
    )
    return (
        insert(OrderEvent)
        .from_select(
            ["order_id", "seq", "kind", "status", "previous_status", "at", "correlation_id"],
            select(
                literal(order_id, OrderEvent.order_id.type),
                next_seq,
                literal(kind, OrderEvent.kind.type),
                literal(status, OrderEvent.status.type),
                literal(previous_status, OrderEvent.previous_status.type),
                literal(at, OrderEvent.at.type),
                literal(correlation_id, OrderEvent.correlation_id.type),
            ),
        )
        .returning(OrderEvent)
    )


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
    ) -> OrderEvent:
        """Append to the history of an order whose row this transaction has locked (or inserted)."""
        stmt = _append_event(
            order_id=order_id,
            kind=kind,
            status=status,
            previous_status=previous_status,
            at=at,
            correlation_id=correlation_id,
        )
        event: OrderEvent = (await self._session.execute(stmt)).scalar_one()
        return event

    async def owned_after(
        self, *, order_id: uuid.UUID, user_id: int, after_seq: int = 0
    ) -> Sequence[OrderEvent]:
        """The events of `user_id`'s order after `after_seq`, oldest first; none if not theirs."""
        stmt = (
            select(OrderEvent)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(Order.id == order_id, Order.user_id == user_id, OrderEvent.seq > after_seq)
            .order_by(OrderEvent.seq)
        )
        return (await self._session.execute(stmt)).scalars().all()

    async def owned_of(
        self, *, order_ids: Sequence[uuid.UUID], user_id: int
    ) -> Sequence[OrderEvent]:
        """The events of those of `order_ids` that are `user_id`'s, by order, oldest first."""
        stmt = (
            select(OrderEvent)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(Order.id.in_(order_ids), Order.user_id == user_id)
            .order_by(OrderEvent.order_id, OrderEvent.seq)
        )
        return (await self._session.execute(stmt)).scalars().all()


class ProcessedOrderHistory:
    """The worker's side of the history (sync): the PROCESSED event, in the task's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append_processed(
        self, *, order_id: uuid.UUID, at: datetime, correlation_id: str | None
    ) -> tuple[int, OrderEvent] | None:
        """Lock the order, append PROCESSED with its current status; (owner, event), or None if the
        order no longer exists."""
        locked = self._session.execute(
            select(Order.user_id, Order.status).where(Order.id == order_id).with_for_update()
        ).first()
        if locked is None:
            return None
        user_id, status = locked
        stmt = _append_event(
            order_id=order_id,
            kind=OrderEventKind.PROCESSED,
            status=status,
            previous_status=None,
            at=at,
            correlation_id=correlation_id,
        )
        event: OrderEvent = self._session.execute(stmt).scalar_one()
        return user_id, event
