"""Orders read into records (domain/orders/records.py) and written by the one serialiser
(edge/order_json.py) are byte for byte what `OrderOut` writes for the same row, for every shape a
row can take; what the record reader does not take, `OrderOut` reads (or refuses) as before. A
cached body reads back into the record it was written from."""

from __future__ import annotations

import uuid
from collections import namedtuple
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.orders.records import order_record
from domain.orders.schemas import ORDER_LIST, OrderOut
from domain.orders.status import OrderStatus
from edge.order_json import order_from_json, order_json, orders_json

# A row of `orders` as the repository selects it: its columns, in order, by name and by position.
OrderRow = namedtuple("OrderRow", list(OrderOut.model_fields))  # type: ignore[misc]


def _row(**changes: Any) -> Any:
    at = datetime(2026, 11, 30, 8, 10, 14, 159329, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": uuid.UUID("6d340350-2bbc-4830-aea6-1ad4ba58605e"),
        "user_id": 7,
        "items": [
            {"name": "Blue mug", "price": "5.50", "quantity": 2, "product_id": "sku-1"},
            {"name": None, "price": "17.00", "quantity": 1, "product_id": "sku-2"},
        ],
        "total_price": Decimal("28.00"),
        "status": OrderStatus.PENDING,
        "created_at": at,
        "updated_at": at,
        "version": 3,
    }
    return OrderRow(**{**values, **changes})


def _item(**changes: Any) -> dict[str, Any]:
    return {"name": "Mug", "price": "5.50", "quantity": 2, "product_id": "sku-1", **changes}


def order_body(row: Any) -> bytes:
    return order_json(order_record(row))


def orders_body(rows: list[Any]) -> bytes:
    return orders_json([order_record(row) for row in rows])


def _model_bytes(row: Any) -> bytes:
    return OrderOut.model_validate(row).model_dump_json().encode()


ROWS = [
    _row(),
    _row(items=[_item(name=None)]),
    _row(items=[]),
    _row(items=[_item(product_id='quote " back \\ slash <b>&', name="é ü 中文 😀 \u2028 \u2029")]),
    _row(items=[_item(name="tab\tnewline\ncontrol\x01\x1f del\x7f")]),
    _row(items=[_item(price="0.00"), _item(price="99999999.99", quantity=1_000_000)]),
    _row(items=[_item(extra="ignored", another=[1, 2])]),
    _row(total_price=Decimal("0")),
    _row(total_price=Decimal("0.00")),
    _row(total_price=Decimal("12345678.9")),
    _row(total_price=Decimal("99999999.99")),
    _row(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    _row(created_at=datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC)),
    _row(updated_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))),
    _row(user_id=2**40),
    *(_row(status=status) for status in OrderStatus),
    # Not as this service stores them: written by `OrderOut`, whose answer it must stay.
    _row(items=[_item(price="5.5")]),
    _row(items=[_item(price="05.50")]),
    _row(items=[_item(price="5")]),
    _row(items=[_item(price=5.5)]),
    _row(items=[_item(price=5)]),
    _row(items=[_item(quantity=True)]),
    _row(items=[_item(quantity=2.0)]),
    _row(items=[_item(quantity="2")]),
]


@pytest.mark.parametrize("row", ROWS)
def test_one_order_is_written_as_the_model_writes_it(row: Any) -> None:
    assert order_body(row) == _model_bytes(row)


def test_a_page_is_written_as_the_list_model_writes_it() -> None:
    expected = ORDER_LIST.dump_json(ORDER_LIST.validate_python(ROWS, from_attributes=True))

    assert orders_body(ROWS) == expected
    assert orders_body(ROWS[:5]) == b"[" + b",".join(_model_bytes(row) for row in ROWS[:5]) + b"]"
    assert orders_body([]) == b"[]"


@pytest.mark.parametrize(
    "items",
    [
        [{"price": "5.50", "quantity": 2, "product_id": "sku-1"}],  # no name
        [_item(product_id=5)],
        [_item(price="five")],
        ["not an item"],
    ],
)
def test_what_the_model_refuses_is_still_refused(items: list[Any]) -> None:
    with pytest.raises(ValidationError):
        order_body(_row(items=items))
    with pytest.raises(ValidationError):
        orders_body([_row(), _row(items=items)])


@pytest.mark.parametrize("row", ROWS)
def test_a_cached_body_reads_back_into_its_record(row: Any) -> None:
    record = order_record(row)

    assert order_from_json(order_json(record), record.version) == record
