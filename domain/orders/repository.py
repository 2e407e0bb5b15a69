from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders.models import IdempotencyKey, Order
from domain.orders.pagination import Position

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
