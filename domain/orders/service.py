"""Order business rules. Every function takes the caller's unit of work and never commits."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from sqlalchemy.exc import IntegrityError

from domain.orders import history
from domain.orders.cache import OrderCacheWrites
from domain.orders.errors import (
    IdempotencyKeyReused,
    InvalidStatusTransition,
    OrderCacheUnavailable,
    OrderListForbidden,
    OrderNotFound,
    OrderVersionMismatch,
)
from domain.orders.events import new_order_event
from domain.orders.history_repository import OrderEventRow
from domain.orders.models import Order
from domain.orders.pagination import decode_cursor, encode_cursor
from domain.orders.permissions import CustomerStatusChanges, ensure_move, moves_to
from domain.orders.records import (
    ORDER_COLUMNS,
    KeyClaim,
    OrderRecord,
    StatusChange,
    order_record,
)
from domain.orders.schemas import NOTE, IdempotencyKeyArgument, OrderCreate
from domain.orders.status import OrderStatus
from domain.uow import UnitOfWork
from domain.users.errors import AccountGone
from infra.db import utcnow
from infra.tracing import annotate


def _after_commit(
    uow: UnitOfWork, cache: OrderCacheWrites | None, order: OrderRecord, event: OrderEventRow
) -> None:
    """Once (and only if) the transaction commits, the cache gets the written order and the history
    `event` is announced to live subscribers (one Redis call for both)."""
    message = history.live_message(uow=uow, user_id=order.user_id, event=event)
    if cache is not None:

        async def refresh() -> None:
            await cache.store(order=order, then_publish=message)

        uow.after_commit(refresh)
    elif message is not None:
        history.announce(uow=uow, message=message)


# How long an Idempotency-Key is remembered; afterwards the same key creates a new order.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class CreatedOrder:
    order: OrderRecord
    # True when an earlier request with the same idempotency key created the order.
    replayed: bool


async def create_order(
    *,
    uow: UnitOfWork,
    cache: OrderCacheWrites | None,
    user_id: int,
    data: OrderCreate,
    idempotency_key: str | None = None,
) -> CreatedOrder:
    """A new PENDING order of `user_id`; its total is computed here, never taken from the client.

    With an `idempotency_key` (1–255 visible ASCII characters, per user, kept 24 hours), a retry is
    safe: the same key with the same request returns the order the first request created, as it is
    now, and creates nothing (no second order, no second `new_order` event); the same key with a
    different request raises `IdempotencyKeyReused`. Concurrent requests with one key create one
    order: the second waits on the key's unique index until the first commits, then replays it.
    """
    order = _new_order(user_id, data)
    created = history.created(order)
    if idempotency_key is None:
        with _owner_must_exist():
            await uow.orders.add(order, outbox=new_order_event(order), created=created)
        return _created(uow, cache, order, created)
    key = IdempotencyKeyArgument(idempotency_key=idempotency_key).idempotency_key
    fingerprint = request_fingerprint(data)
    # The key is claimed in the statement that writes the order (one round trip): an expired key
    # is simply free again.
    claim = KeyClaim(
        key=key, request_hash=fingerprint, expired_before=order.created_at - IDEMPOTENCY_KEY_TTL
    )
    with _owner_must_exist():
        claimed = await uow.orders.add_claimed(
            order, outbox=new_order_event(order), created=created, claim=claim
        )
    if claimed:
        return _created(uow, cache, order, created)
    # An earlier request holds the key (a concurrent one has committed by now): its order answers.
    original = await uow.orders.keyed(user_id=user_id, key=key)
    if original is None:  # deleted with its key (ON DELETE CASCADE): never expected
        raise OrderNotFound
    if original.request_hash != fingerprint:
        raise IdempotencyKeyReused
    annotate(order_id=original.order.id)
    return CreatedOrder(order=original.order, replayed=True)


# PostgreSQL's SQLSTATE for a foreign key violation: the order's `user_id` names no user.
_FOREIGN_KEY_VIOLATION = "23503"


@contextmanager
def _owner_must_exist() -> Iterator[None]:
    """An order's owner was deleted after their token was issued: `AccountGone`, not a bug. Found
    by the insert's foreign key, so the ordinary path pays no extra query."""
    try:
        yield
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == _FOREIGN_KEY_VIOLATION:
            raise AccountGone from exc
        raise


def _created(
    uow: UnitOfWork, cache: OrderCacheWrites | None, order: Order, event: OrderEventRow
) -> CreatedOrder:
    record = order_record([getattr(order, column) for column in ORDER_COLUMNS])
    _after_commit(uow, cache, record, event)
    return CreatedOrder(order=record, replayed=False)


def _new_order(user_id: int, data: OrderCreate) -> Order:
    now = utcnow()
    return Order(
        id=uuid.uuid4(),
        user_id=user_id,
        items=[item.model_dump(mode="json") for item in data.items],
        total_price=data.computed_total,
        status=OrderStatus.PENDING,
        created_at=now,
        updated_at=now,
        version=1,
    )


def request_fingerprint(data: OrderCreate) -> str:
    """The request as validated, hashed: "5.5" and "5.50", or a missing and a null name, are the
    same request; another item, quantity, price or `total_price` is a different one."""
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def ensure_readable(*, owner_id: int, user_id: int, as_staff: bool = False) -> None:
    """Only the owner (or staff, `as_staff`, checked by the caller) may read an order:
    `OrderNotFound` otherwise (never "it is someone else's"). The interfaces ask this of a cached
    copy; the database is asked for the owner's rows only (staff: any order's)."""
    if owner_id != user_id and not as_staff:
        raise OrderNotFound


async def get_order(
    *, uow: UnitOfWork, user_id: int, order_id: uuid.UUID, as_staff: bool = False
) -> OrderRecord:
    """The order, if `user_id` may read it (`ensure_readable`); otherwise `OrderNotFound`."""
    annotate(order_id=order_id, user_id=user_id)
    if as_staff:
        order = await uow.orders.get_any(order_id=order_id)
    else:
        order = await uow.orders.get_owned(order_id=order_id, user_id=user_id)
    if order is None:
        raise OrderNotFound
    return order


async def update_status(
    *,
    uow: UnitOfWork,
    cache: OrderCacheWrites | None,
    user_id: int,
    order_id: uuid.UUID,
    status: OrderStatus,
    expected_version: int | None = None,
    as_staff: bool = False,
    note: str | None = None,
    customer_moves: CustomerStatusChanges = CustomerStatusChanges.ALL,
) -> OrderRecord:
    """Move the order to `status` if the rules allow it, and record the move in its history: who
    made it (`user_id`, as staff or as a customer) and their `note` (a `Note`: 1–500 characters).

    Who may: staff (`as_staff`, checked by the caller) make any allowed move on any order; a customer
    only on their own orders (another's is `OrderNotFound`), and only the moves `customer_moves`
    (CUSTOMER_STATUS_CHANGES) lets customers make: a move the rules allow but not to this role is
    `StatusChangeForbidden`, a move no role may make `InvalidStatusTransition`.

    The row is locked until the commit, so of two concurrent moves the second is judged against the
    first one's result. The cached copy is invalidated before the commit (`OrderCacheUnavailable` if
    it cannot be): no read after the commit sees the old status, even if the refresh is lost.
    With `expected_version` (REST's If-Match, GraphQL's `expectedVersion`), the move happens only if
    the order is still at that version; otherwise `OrderVersionMismatch` and nothing changes.
    """
    annotate(order_id=order_id, user_id=user_id, status=status.value)
    if note is not None:
        note = NOTE.validate_python(note)
    change = await uow.orders.change_status(
        order_id=order_id,
        user_id=None if as_staff else user_id,
        status=status,
        from_statuses=moves_to(status, as_staff=as_staff, customer_moves=customer_moves),
        expected_version=expected_version,
        at=utcnow(),
    )
    if change is None or change.order is None:
        await _refuse(
            uow,
            change,
            user_id=user_id,
            status=status,
            expected_version=expected_version,
            as_staff=as_staff,
            customer_moves=customer_moves,
        )
    order = change.order
    event = await history.record_status_change(
        uow=uow,
        order=order,
        previous_status=change.status,
        actor_id=user_id,
        as_staff=as_staff,
        note=note,
    )
    if cache is not None and not await cache.invalidate(order_id=order.id, version=order.version):
        raise OrderCacheUnavailable
    _after_commit(uow, cache, order, event)
    return order


async def _refuse(
    uow: UnitOfWork,
    change: StatusChange | None,
    *,
    user_id: int,
    status: OrderStatus,
    expected_version: int | None,
    as_staff: bool,
    customer_moves: CustomerStatusChanges,
) -> NoReturn:
    """Raise the error that says why `change_status` changed nothing."""
    if change is None:
        # Its owner's orders went with the account (ON DELETE CASCADE): say so, as create_order does.
        if await uow.users.get(user_id) is None:
            raise AccountGone
        raise OrderNotFound
    # Refused: either the version moved on, or the rules (`moves_to`) do not allow the move.
    if expected_version is not None and change.version != expected_version:
        raise OrderVersionMismatch(current_version=change.version)
    ensure_move(change.status, status, as_staff=as_staff, customer_moves=customer_moves)
    raise InvalidStatusTransition(current=change.status.value, target=status.value)


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of orders, newest first."""

    orders: Sequence[OrderRecord]
    # Where the next page starts (None on the last page).
    next_cursor: str | None


async def list_orders(
    *,
    uow: UnitOfWork,
    requester_id: int,
    user_id: int,
    limit: int,
    cursor: str | None,
    as_staff: bool = False,
) -> OrderPage:
    """One page of `user_id`'s orders, newest first; a customer may list only their own orders,
    staff (`as_staff`, checked by the caller) anyone's."""
    if requester_id != user_id and not as_staff:
        raise OrderListForbidden
    after = decode_cursor(cursor) if cursor else None
    found = await uow.orders.list_for_user(user_id=user_id, limit=limit + 1, after=after)
    page = found[:limit]
    next_cursor = encode_cursor((page[-1].created_at, page[-1].id)) if len(found) > limit else None
    return OrderPage(orders=page, next_cursor=next_cursor)
