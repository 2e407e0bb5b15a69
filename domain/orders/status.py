"""Order statuses, the moves between them, and the kinds of change an order's history records."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    CANCELED = "CANCELED"


class OrderEventKind(StrEnum):
    """What happened to an order: one row of its history (domain/orders/history.py)."""

    CREATED = "CREATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    # The worker finished the order's new_order task.
    PROCESSED = "PROCESSED"


# PENDING -> PAID | CANCELED; PAID -> SHIPPED | CANCELED; SHIPPED and CANCELED are final.
ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELED}),
    OrderStatus.SHIPPED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
}


def moves_to(target: OrderStatus) -> frozenset[OrderStatus]:
    """The statuses an order may move to `target` from (the same table, read the other way): the
    status change's SQL moves an order only from one of these, and a refused move is explained as
    `InvalidStatusTransition` from the status it found (domain/orders/service.py)."""
    return frozenset(status for status, targets in ALLOWED_TRANSITIONS.items() if target in targets)
