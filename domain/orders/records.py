"""Orders as the domain hands them out: plain typed records, built from the repository's rows.

The rows come from our own table through typed columns, and their items passed `OrderItem`'s rules
on the way in, so a row is turned into a record field for field, without validating it again
(validating a page of rows into models was most of the time a page took). An item that is not
exactly as this service stores it (another shape, a price not in its two-decimal form) is read
through `OrderOut` instead, so its record, or the error, is always what the model makes of it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from domain.orders.schemas import OrderOut
from domain.orders.status import OrderStatus

# The columns of `orders` a record is read from, in this order (`OrderOut`'s fields: `version` last).
ORDER_COLUMNS = tuple(OrderOut.model_fields)
# How `OrderItem` stores a price ("5.50", "0.00"): exactly what `StoredMoney` writes back for it.
_CANONICAL_PRICE = re.compile(r"(?:0|[1-9][0-9]{0,7})\.[0-9]{2}").fullmatch
_ITEM_FIELDS = itemgetter("product_id", "name", "quantity", "price")


# Records are named tuples: immutable and typed like a frozen dataclass, and several times cheaper
# to build (a page of orders builds a few hundred of them).
class OrderLine(NamedTuple):
    """One item of an order, as stored; `price` with exactly two decimals."""

    product_id: str
    name: str | None
    quantity: int
    price: Decimal


class OrderRecord(NamedTuple):
    """One order: what every interface shows of it (`OrderOut`'s fields) and its `version`."""

    id: uuid.UUID
    user_id: int
    items: tuple[OrderLine, ...]
    total_price: Decimal
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    version: int


CENT = Decimal("0.01")
# Building a named tuple through its class costs a Python call per record; through tuple's own
# constructor it does not (a page builds a few hundred).
_build = tuple.__new__


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What a status change found (the order's status and version before it), and the order as
    changed: None when the rules or the expected version refused the change."""

    status: OrderStatus
    version: int
    order: OrderRecord | None


@dataclass(frozen=True, slots=True)
class KeyedOrder:
    """The order an Idempotency-Key created, and the fingerprint of the request that created it."""

    request_hash: str
    order: OrderRecord


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """An Idempotency-Key to claim for a new order: its text, the fingerprint of the request, and
    the moment before which a key of the same text has expired (and may be taken over)."""

    key: str
    request_hash: str
    expired_before: datetime


class _NotAsStored(Exception):
    """An item this module does not read itself; `OrderOut` does."""


def _line(item: Any) -> OrderLine:
    if type(item) is not dict:
        raise _NotAsStored
    try:
        product_id, name, quantity, price = _ITEM_FIELDS(item)
    except KeyError:
        raise _NotAsStored from None
    if (
        type(product_id) is not str
        or (name is not None and type(name) is not str)
        or type(quantity) is not int
        or type(price) is not str
        or not _CANONICAL_PRICE(price)
    ):
        raise _NotAsStored
    # The pattern makes `Decimal(price)` exactly two decimals, as `str` writes it back.
    return _build(OrderLine, (product_id, name, quantity, Decimal(price)))


def order_record(columns: Sequence[Any]) -> OrderRecord:
    """The record of one row of `orders`, its columns in table order (`OrderOut`'s fields, then
    `version`). A row the model refuses raises its `ValidationError`."""
    order_id, user_id, items, total_price, status, created_at, updated_at, version = columns
    try:
        if type(items) is not list:
            raise _NotAsStored
        lines = tuple([_line(item) for item in items])
    except _NotAsStored:
        return _through_model(columns)
    return _build(
        OrderRecord,
        (order_id, user_id, lines, total_price, status, created_at, updated_at, version),
    )


def _through_model(columns: Sequence[Any]) -> OrderRecord:
    out = OrderOut.model_validate(dict(zip(ORDER_COLUMNS, columns, strict=True)))
    return OrderRecord(
        id=out.id,
        user_id=out.user_id,
        items=tuple(
            OrderLine(item.product_id, item.name, item.quantity, item.price.quantize(CENT))
            for item in out.items
        ),
        total_price=out.total_price,
        status=out.status,
        created_at=out.created_at,
        updated_at=out.updated_at,
        version=out.version,
    )
