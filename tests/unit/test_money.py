"""Money: one rule for every price and total, whatever the interface."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.orders.schemas import OrderCreate, OrderOut


def _order(*prices: object, total: object = None) -> OrderCreate:
    items = [{"product_id": f"sku-{n}", "quantity": 1, "price": p} for n, p in enumerate(prices)]
    body: dict[str, object] = {"items": items}
    if total is not None:
        body["total_price"] = total
    return OrderCreate.model_validate(body)


@pytest.mark.parametrize("price", ["17", "17.5", "17.50", "0", "9999999.99", 17, 17.5, "0.01"])
def test_plain_prices_are_accepted(price: object) -> None:
    assert _order(price).items[0].price == Decimal(str(price))


@pytest.mark.parametrize(
    "price", ["+5", " 5", "1_000", "１０", "1e2", "5.", ".5", "1.234", "-1", "NaN", "", "100000000"]
)
def test_prices_outside_the_documented_format_are_refused(price: str) -> None:
    with pytest.raises(ValidationError):
        _order(price)


@pytest.mark.parametrize("price", [-1, 1.234, 1e9])
def test_numbers_out_of_range_or_too_precise_are_refused(price: float) -> None:
    with pytest.raises(ValidationError):
        _order(price)


def test_the_total_is_computed_to_the_cent() -> None:
    assert _order("5.50", "6.00").computed_total == Decimal("11.50")


def test_a_total_sent_must_match_the_items() -> None:
    assert _order("5.50", total="5.50").total_price == Decimal("5.50")
    with pytest.raises(ValidationError, match="does not match"):
        _order("5.50", total="5.51")


def test_a_total_over_the_column_is_refused() -> None:
    with pytest.raises(ValidationError, match="exceeds the maximum"):
        _order("99999999.99", "99999999.99")


def test_money_is_written_with_two_decimals() -> None:
    order = _order("17")
    out = OrderOut.model_validate(
        {
            "id": "00000000-0000-0000-0000-000000000001",
            "user_id": 1,
            "items": [item.model_dump() for item in order.items],
            "total_price": order.computed_total,
            "status": "PENDING",
            "created_at": "2026-11-30T00:00:00Z",
            "updated_at": "2026-11-30T00:00:00Z",
            "version": 1,
        }
    )

    assert '"price":"17.00"' in out.model_dump_json()
    assert '"total_price":"17.00"' in out.model_dump_json()
