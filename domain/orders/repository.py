from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    FromClause,
    Insert,
    Integer,
    Table,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from domain.events.repository import OutboxRow, outbox_insert, outbox_values
from domain.orders.history_repository import OrderEventRow
from domain.orders.models import IdempotencyKey, Order, OrderEvent
from domain.orders.pagination import Position
from domain.orders.records import KeyClaim, KeyedOrder, OrderRecord, StatusChange, order_record
from domain.orders.status import OrderStatus
from infra.db import Statements

_ORDERS = cast(Table, Order.__table__)
_EVENTS = cast(Table, OrderEvent.__table__)
_KEYS = cast(Table, IdempotencyKey.__table__)
_COLUMNS = _ORDERS.c

# The hot statements are built once, here, with their values bound by name: building a statement
# (and its cache key) costs more CPU than PostgreSQL spends running it.


def _bound(table: Table, prefix: str) -> dict[str, BindParameter[Any]]:
    return {
        column.key: bindparam(prefix + column.key, type_=column.type) for column in table.columns
    }


def _values(row: object, table: Table, prefix: str) -> dict[str, Any]:
    return {prefix + column.key: getattr(row, column.key) for column in table.columns}


# A new order, its outbox event and its first history event, in one statement (one round trip;
# PostgreSQL checks the foreign keys at its end).
_ADD = (
    insert(_EVENTS)
    .values(_bound(_EVENTS, "event_"))
    .add_cte(
        insert(_ORDERS).values(_bound(_ORDERS, "order_")).cte("new_order"),
        outbox_insert("outbox_").cte("new_order_event"),
    )
)


def _insert_for_each(table: Table, prefix: str, source: FromClause) -> Insert:
    """INSERT one row of bound values (`prefix` + column) per row of `source`: none if it is empty."""
    values = _bound(table, prefix)
    return insert(table).from_select(list(values), select(*values.values()).select_from(source))


# The same, with an Idempotency-Key claimed in the same statement: the key's row is inserted, or
# taken over when it has expired (ON CONFLICT ... WHERE), and only then are the order, its outbox
# event and its history written (each selected from the row before it: none if the key was not
# claimed). A key held by a concurrent transaction makes the statement wait on the unique index
# until that one ends, then claim it (rolled back) or not (committed). The user's other expired
# keys are deleted on the way, so they do not pile up.
_KEY_VALUES = _bound(_KEYS, "key_")
_EXPIRED_BEFORE = bindparam("expired_before", type_=_KEYS.c.created_at.type)
_FREED_KEYS = (
    delete(_KEYS)
    .where(
        _KEYS.c.user_id == _KEY_VALUES["user_id"],
        _KEYS.c.created_at < _EXPIRED_BEFORE,
        _KEYS.c.idempotency_key != _KEY_VALUES["idempotency_key"],
    )
    .cte("freed_keys")
)
_KEY_INSERT = pg_insert(_KEYS).values(_KEY_VALUES)
_CLAIMED_KEY = (
    _KEY_INSERT.on_conflict_do_update(
        index_elements=[_KEYS.c.user_id, _KEYS.c.idempotency_key],
        set_={
            name: _KEY_INSERT.excluded[name] for name in ("request_hash", "order_id", "created_at")
        },
        where=_KEYS.c.created_at < _EXPIRED_BEFORE,
    )
    .returning(_KEYS.c.order_id)
    .cte("claimed_key")
)
_CLAIMED_ORDER = (
    _insert_for_each(_ORDERS, "order_", _CLAIMED_KEY).returning(_ORDERS.c.id).cte("new_order")
)
_ADD_CLAIMED = (
    _insert_for_each(_EVENTS, "event_", _CLAIMED_ORDER)
    .returning(_EVENTS.c.order_id)
    .add_cte(
        _FREED_KEYS,
        _CLAIMED_KEY,
        _CLAIMED_ORDER,
        outbox_insert("outbox_", for_each=_CLAIMED_ORDER).cte("new_order_event"),
    )
)

# Bound names never equal a column's: an UPDATE would take such a parameter as a value to SET.
_GET_OWNED = select(*_COLUMNS).where(
    _COLUMNS.id == bindparam("order_id"), _COLUMNS.user_id == bindparam("owner_id")
)

# Staff read any order: by its id alone.
_GET_ANY = select(*_COLUMNS).where(_COLUMNS.id == bindparam("order_id"))

# What a retry with a known key is answered with: the order the key created, as it is now, and the
# fingerprint of the request that created it.
_KEYED_ORDER = (
    select(_KEYS.c.request_hash, *_COLUMNS)
    .join_from(_KEYS, _ORDERS, _COLUMNS.id == _KEYS.c.order_id)
    .where(
        _KEYS.c.user_id == bindparam("owner_id"),
        _KEYS.c.idempotency_key == bindparam("key"),
        _COLUMNS.user_id == bindparam("owner_id"),
    )
)

# Lock the row first (of two concurrent changes the second is judged against the first one's
# result), then update it if its status is one the target may be reached from and, when an expected
# version is given, if it is still at that version; the status and version found come back either way.
_FOUND = (
    select(_COLUMNS.id, _COLUMNS.status, _COLUMNS.version)
    .where(
        _COLUMNS.id == bindparam("order_id"),
        # Staff act on any order (no owner given): the order is found by its id alone.
        _COLUMNS.user_id
        == func.coalesce(bindparam("owner_id", type_=_COLUMNS.user_id.type), _COLUMNS.user_id),
    )
    .with_for_update()
    .cte("found")
)
_UPDATED = (
    update(_ORDERS)
    .where(
        _COLUMNS.id == _FOUND.c.id,
        # An array parameter, not an expanding IN: its SQL is the same whatever the list, so it
        # needs no rendering per execution.
        _FOUND.c.status == any_(bindparam("from_statuses", type_=ARRAY(_COLUMNS.status.type))),
        _FOUND.c.version
        == func.coalesce(bindparam("expected_version", type_=Integer), _FOUND.c.version),
    )
    .values(
        status=bindparam("new_status", type_=_COLUMNS.status.type),
        version=_COLUMNS.version + 1,
        updated_at=bindparam("at", type_=_COLUMNS.updated_at.type),
    )
    .returning(*_COLUMNS)
    .cte("updated")
)
_CHANGE_STATUS = select(
    _FOUND.c.status.label("found_status"), _FOUND.c.version.label("found_version"), _UPDATED
).select_from(_FOUND.outerjoin(_UPDATED, true()))

_NEWEST_FIRST = (_COLUMNS.created_at.desc(), _COLUMNS.id.desc())
_LIST_FIRST = (
    select(*_COLUMNS)
    .where(_COLUMNS.user_id == bindparam("owner_id"))
    .order_by(*_NEWEST_FIRST)
    .limit(bindparam("limit", type_=Integer))
)
_LIST_AFTER = _LIST_FIRST.where(
    tuple_(_COLUMNS.created_at, _COLUMNS.id)
    < tuple_(
        bindparam("after_created_at", type_=_COLUMNS.created_at.type),
        bindparam("after_id", type_=_COLUMNS.id.type),
    )
)


def _add_values(order: Order, outbox: OutboxRow, created: OrderEventRow) -> dict[str, Any]:
    return {
        **_values(order, _ORDERS, "order_"),
        **_values(created, _EVENTS, "event_"),
        **outbox_values(outbox, "outbox_"),
    }


class OrderRepository:
    """Core statements only, so a read-only unit of work can run them without a session."""

    def __init__(self, session: Statements) -> None:
        self._session = session

    async def add(self, order: Order, *, outbox: OutboxRow, created: OrderEventRow) -> None:
        """Insert the new order with its outbox event and its first history event, in one
        statement. `order` stays a detached value object: the ORM's flush machinery is not used."""
        await self._session.execute(_ADD, _add_values(order, outbox, created))

    async def add_claimed(
        self, order: Order, *, outbox: OutboxRow, created: OrderEventRow, claim: KeyClaim
    ) -> bool:
        """`add`, with the idempotency key claimed in the same statement; False, and nothing
        written, when an earlier request holds the key (its order: `keyed`)."""
        values = _add_values(order, outbox, created) | {
            "key_user_id": order.user_id,
            "key_idempotency_key": claim.key,
            "key_request_hash": claim.request_hash,
            "key_order_id": order.id,
            "key_created_at": order.created_at,
            "expired_before": claim.expired_before,
        }
        return (await self._session.execute(_ADD_CLAIMED, values)).first() is not None

    async def keyed(self, *, user_id: int, key: str) -> KeyedOrder | None:
        """The order `user_id`'s idempotency `key` created, with that request's `request_hash`."""
        result = await self._session.execute(_KEYED_ORDER, {"owner_id": user_id, "key": key})
        row = result.one_or_none()
        if row is None:
            return None
        return KeyedOrder(request_hash=row[0], order=order_record(row[1:]))

    async def get_owned(self, *, order_id: uuid.UUID, user_id: int) -> OrderRecord | None:
        """The order, if `user_id` owns it (read with Core: no ORM object, identity map or flush)."""
        result = await self._session.execute(
            _GET_OWNED, {"order_id": order_id, "owner_id": user_id}
        )
        row = result.one_or_none()
        return order_record(row) if row is not None else None

    async def get_any(self, *, order_id: uuid.UUID) -> OrderRecord | None:
        """The order, whoever owns it (staff reads)."""
        row = (await self._session.execute(_GET_ANY, {"order_id": order_id})).one_or_none()
        return order_record(row) if row is not None else None

    async def change_status(
        self,
        *,
        order_id: uuid.UUID,
        user_id: int | None,
        status: OrderStatus,
        from_statuses: Collection[OrderStatus],
        expected_version: int | None,
        at: datetime,
    ) -> StatusChange | None:
        """Move the order to `status` if it is in one of `from_statuses` (and at `expected_version`
        when given), in one statement. `user_id`: the owner it must have (None: any, for staff).
        None when there is no such order; otherwise the status
        and version found, and the order as updated (None when it was not)."""
        params = {
            "order_id": order_id,
            "owner_id": user_id,
            "new_status": status,
            "from_statuses": list(from_statuses),
            "expected_version": expected_version,
            "at": at,
        }
        row: Sequence[Any] | None = (
            await self._session.execute(_CHANGE_STATUS, params)
        ).one_or_none()
        if row is None:
            return None
        # The found status and version, then the updated order's columns (all null when it was not
        # updated).
        updated = row[2:]
        order = order_record(updated) if updated[0] is not None else None
        return StatusChange(status=row[0], version=row[1], order=order)

    async def list_for_user(
        self, *, user_id: int, limit: int, after: Position | None
    ) -> list[OrderRecord]:
        """A page, newest first, by a keyset on (created_at, id): an index range scan of
        ix_orders_user_id_created_at_id at any depth."""
        if after is None:
            first: dict[str, Any] = {"owner_id": user_id, "limit": limit}
            result = await self._session.execute(_LIST_FIRST, first)
        else:
            after_created_at, after_id = after
            params = {
                "owner_id": user_id,
                "limit": limit,
                "after_created_at": after_created_at,
                "after_id": after_id,
            }
            result = await self._session.execute(_LIST_AFTER, params)
        return [order_record(row) for row in result]
