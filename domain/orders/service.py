"""Order business rules. Every function takes the caller's unit of work and never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from domain.infra.db import utcnow
from domain.infra.uow import UnitOfWork
from domain.orders.cache import OrderCache
from domain.orders.errors import OrderListForbidden, OrderNotFound
from domain.orders.events import record_new_order
from domain.orders.models import Order
from domain.orders.pagination import decode_cursor, encode_cursor
from domain.orders.repository import OrderRepository
from domain.orders.schemas import OrderCreate, OrderOut, OrderPage
from domain.orders.status import OrderStatus, ensure_transition


@dataclass(frozen=True, slots=True)
class OrderRead:
    """An order as read for its owner: `body` is its JSON, exactly what the API returns."""

    body: bytes
    from_cache: bool

    def order(self) -> OrderOut:
        return OrderOut.model_validate_json(self.body)


def _refresh_cache_after_commit(
    uow: UnitOfWork, cache: OrderCache | None, order: Order
) -> OrderOut:
    """The order's representation, stored in the cache once (and only if) the transaction commits."""
    out = OrderOut.model_validate(order)
    if cache is not None:
        body, version = out.model_dump_json().encode(), order.version

        async def refresh() -> None:
            await cache.put(order_id=out.id, version=version, user_id=out.user_id, body=body)

        uow.after_commit(refresh)
    return out


async def create_order(
    *, uow: UnitOfWork, cache: OrderCache | None, user_id: int, data: OrderCreate
) -> OrderOut:
    """A new PENDING order of `user_id`; its total is computed here, never taken from the client."""
    now = utcnow()
    order = Order(
        id=uuid.uuid4(),
        user_id=user_id,
        items=[item.model_dump(mode="json") for item in data.items],
        total_price=data.computed_total,
        status=OrderStatus.PENDING,
        created_at=now,
        updated_at=now,
        version=1,
    )
    await OrderRepository(uow.session).add(order)
    await record_new_order(uow=uow, order=order)
    return _refresh_cache_after_commit(uow, cache, order)


async def get_order(
    *, uow: UnitOfWork, cache: OrderCache | None, user_id: int, order_id: uuid.UUID
) -> OrderRead:
    """The order, if it belongs to `user_id`; otherwise `OrderNotFound` (never "it is someone else's").

    Redis first; on a miss, PostgreSQL, then the cache is filled. The owner check applies to hits too.
    """
    cached = await cache.get(order_id) if cache is not None else None
    if cached is not None:
        if not cached.readable_by(user_id):
            raise OrderNotFound
        return OrderRead(body=cached.body, from_cache=True)
    order = await OrderRepository(uow.session).get_owned(order_id=order_id, user_id=user_id)
    if order is None:
        raise OrderNotFound
    body = OrderOut.model_validate(order).model_dump_json().encode()
    if cache is not None:
        # Versioned write: if a newer version was stored meanwhile, this older read is dropped.
        await cache.put(order_id=order.id, version=order.version, user_id=user_id, body=body)
    return OrderRead(body=body, from_cache=False)


async def update_status(
    *,
    uow: UnitOfWork,
    cache: OrderCache | None,
    user_id: int,
    order_id: uuid.UUID,
    status: OrderStatus,
) -> OrderOut:
    """Move the order to `status` if the rules allow it.

    The row is locked for the rest of the transaction, so of two concurrent moves the second sees the
    first one's result and is judged against it: both can never win.
    """
    order = await OrderRepository(uow.session).get_owned_for_update(
        order_id=order_id, user_id=user_id
    )
    if order is None:
        raise OrderNotFound
    ensure_transition(order.status, status)
    order.status = status
    order.updated_at = utcnow()
    order.version += 1
    await uow.session.flush()
    return _refresh_cache_after_commit(uow, cache, order)


async def list_orders(
    *, uow: UnitOfWork, requester_id: int, user_id: int, limit: int, cursor: str | None
) -> OrderPage:
    """One page of `user_id`'s orders, newest first; only the user may list their own orders."""
    if requester_id != user_id:
        raise OrderListForbidden
    after = decode_cursor(cursor) if cursor else None
    rows = await OrderRepository(uow.session).list_for_user(
        user_id=user_id, limit=limit + 1, after=after
    )
    page = [OrderOut.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor((page[-1].created_at, page[-1].id)) if len(rows) > limit else None
    return OrderPage(items=page, next_cursor=next_cursor)
