"""Orders as JSON straight from their rows: the bytes `OrderOut` writes, without building it.

A read (one order on a cache miss, a page of 50) spent most of its CPU validating rows into
`OrderOut` models only to write them out again. The rows come from our own table through typed
columns, and their items passed `OrderItem`'s rules on the way in, so here they are written
directly with orjson, field for field as `OrderOut` (and `OrderItemOut`) write them. Anything that
is not exactly as this service stores it (an item of another shape, a price not in its canonical
two-decimal form) goes through `OrderOut` instead, so the answer, or the error, is always the
model's. tests/unit/test_order_bodies.py compares both writers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Row

from domain.orders.schemas import ORDER_LIST, OrderOut

# How `OrderItem` stores a price ("5.50", "0.00"): exactly what `StoredMoney` writes back for it.
_CANONICAL_PRICE = re.compile(r"(?:0|[1-9][0-9]{0,7})\.[0-9]{2}")
# pydantic writes an aware UTC datetime with "Z", as orjson does with this option.
_OPTIONS = orjson.OPT_UTC_Z
# A row of `orders` as the repository selects it has `OrderOut`'s fields, in its order (`version`
# last, not written); rows are unpacked by position (by name cost most of the time here).
_COLUMNS = tuple(OrderOut.model_fields)


class _NotAsStored(Exception):
    """A row this module does not write itself; `OrderOut` does."""


def _item(item: Any) -> dict[str, Any]:
    if type(item) is not dict or "name" not in item:
        raise _NotAsStored
    product_id, name, quantity, price = (
        item.get("product_id"),
        item["name"],
        item.get("quantity"),
        item.get("price"),
    )
    if (
        type(product_id) is not str
        or (name is not None and type(name) is not str)
        or type(quantity) is not int
        or type(price) is not str
        or not _CANONICAL_PRICE.fullmatch(price)
    ):
        raise _NotAsStored
    return {"product_id": product_id, "name": name, "quantity": quantity, "price": price}


def _order(row: Any) -> dict[str, Any]:
    order_id, user_id, items, total_price, status, created_at, updated_at, _version = row
    if type(items) is not list:
        raise _NotAsStored
    return {
        "id": str(order_id),
        "user_id": user_id,
        "items": [_item(item) for item in items],
        "total_price": f"{total_price:.2f}",
        "status": status,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _check_columns(row: Row[Any]) -> None:
    if row._fields != _COLUMNS:
        raise _NotAsStored


def order_body(row: Row[Any]) -> bytes:
    """One order's columns (a row of `orders`) as the JSON `OrderOut` writes for it."""
    try:
        _check_columns(row)
        return orjson.dumps(_order(row), option=_OPTIONS)
    except (_NotAsStored, orjson.JSONEncodeError):
        return OrderOut.model_validate(row).model_dump_json().encode()


def orders_body(rows: Sequence[Row[Any]]) -> bytes:
    """Rows of `orders` as the JSON `list[OrderOut]` writes for them."""
    try:
        if rows:
            _check_columns(rows[0])  # the rows of one result share their columns
        return orjson.dumps([_order(row) for row in rows], option=_OPTIONS)
    except (_NotAsStored, orjson.JSONEncodeError):
        return ORDER_LIST.dump_json(ORDER_LIST.validate_python(rows, from_attributes=True))
