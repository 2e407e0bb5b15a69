"""The status rules, as the full table of moves."""

from __future__ import annotations

import pytest

from domain.orders.status import OrderStatus, moves_to

ALLOWED = {
    (OrderStatus.PENDING, OrderStatus.PAID),
    (OrderStatus.PENDING, OrderStatus.CANCELED),
    (OrderStatus.PAID, OrderStatus.SHIPPED),
    (OrderStatus.PAID, OrderStatus.CANCELED),
}


@pytest.mark.parametrize("current", list(OrderStatus))
@pytest.mark.parametrize("target", list(OrderStatus))
def test_only_the_four_moves_of_the_spec_are_allowed(
    current: OrderStatus, target: OrderStatus
) -> None:
    assert (current in moves_to(target)) == ((current, target) in ALLOWED)


def test_shipped_order_cannot_be_cancelled() -> None:
    assert OrderStatus.SHIPPED not in moves_to(OrderStatus.CANCELED)


@pytest.mark.parametrize("target", list(OrderStatus))
def test_moves_to_is_the_same_table_read_the_other_way(target: OrderStatus) -> None:
    assert moves_to(target) == {current for current, to in ALLOWED if to == target}
