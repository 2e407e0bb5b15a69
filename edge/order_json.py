"""Orders as JSON: the one place an order record becomes bytes, and cached bytes a record again.

REST answers with these bytes, the order cache stores them, and GraphQL reads a cached order back
from them. They are exactly what `OrderOut` (and `list[OrderOut]`) write for the same order, written
with orjson from the record instead of through the model: tests/unit/test_order_json.py compares
both writers over every shape a row can take.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from domain.orders.records import OrderLine, OrderRecord
from domain.orders.status import OrderStatus

# pydantic writes an aware UTC datetime with "Z", as orjson does with this option.
_OPTIONS = orjson.OPT_UTC_Z


def _item(line: OrderLine) -> dict[str, Any]:
    product_id, name, quantity, price = line
    # A record's item prices have exactly two decimals, so `str` writes them as `StoredMoney` does.
    return {"product_id": product_id, "name": name, "quantity": quantity, "price": str(price)}


def _order(order: OrderRecord) -> dict[str, Any]:
    # `version` is not in the JSON: REST carries it as the ETag.
    return {
        "id": str(order.id),
        "user_id": order.user_id,
        "items": [_item(line) for line in order.items],
        "total_price": f"{order.total_price:.2f}",
        "status": order.status.value,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def order_json(order: OrderRecord) -> bytes:
    """The order as the JSON `OrderOut` writes for it."""
    return orjson.dumps(_order(order), option=_OPTIONS)


def orders_json(orders: Sequence[OrderRecord]) -> bytes:
    """The orders as the JSON `list[OrderOut]` writes for them."""
    return orjson.dumps([_order(order) for order in orders], option=_OPTIONS)


def order_from_json(body: bytes, version: int) -> OrderRecord:
    """The record `order_json` wrote `body` from (a cached order, read back by GraphQL)."""
    fields = orjson.loads(body)
    return OrderRecord(
        id=uuid.UUID(fields["id"]),
        user_id=fields["user_id"],
        items=tuple(
            OrderLine(item["product_id"], item["name"], item["quantity"], Decimal(item["price"]))
            for item in fields["items"]
        ),
        total_price=Decimal(fields["total_price"]),
        status=OrderStatus(fields["status"]),
        created_at=datetime.fromisoformat(fields["created_at"]),
        updated_at=datetime.fromisoformat(fields["updated_at"]),
        version=version,
    )
