"""Who may make which status move: the rules every interface asks (pure; no I/O).

The status table (`status.ALLOWED_TRANSITIONS`) says which moves exist at all; this says which of
them a role may make. Staff may make every allowed move on any order. Customers, on their own orders
only, follow `CUSTOMER_STATUS_CHANGES`: `all` (every allowed move, the spec's PATCH) or `cancel`
(only PENDING → CANCELED; paying and shipping are staff's, or a payment provider's, business).
A move no role may make is a CONFLICT; one that exists but not for this role is FORBIDDEN.
"""

from __future__ import annotations

from enum import StrEnum

from domain.orders import status as rules
from domain.orders.errors import InvalidStatusTransition, StatusChangeForbidden
from domain.orders.status import ALLOWED_TRANSITIONS, OrderStatus


class CustomerStatusChanges(StrEnum):
    ALL = "all"
    CANCEL = "cancel"


_CUSTOMER_MOVES: dict[CustomerStatusChanges, frozenset[tuple[OrderStatus, OrderStatus]]] = {
    CustomerStatusChanges.ALL: frozenset(
        (current, target) for current, targets in ALLOWED_TRANSITIONS.items() for target in targets
    ),
    CustomerStatusChanges.CANCEL: frozenset({(OrderStatus.PENDING, OrderStatus.CANCELED)}),
}


def moves_to(
    target: OrderStatus, *, as_staff: bool, customer_moves: CustomerStatusChanges
) -> frozenset[OrderStatus]:
    """The statuses this role may move an order to `target` from."""
    return frozenset(
        current
        for current, targets in ALLOWED_TRANSITIONS.items()
        if target in targets and (as_staff or (current, target) in _CUSTOMER_MOVES[customer_moves])
    )


def ensure_move(
    current: OrderStatus,
    target: OrderStatus,
    *,
    as_staff: bool,
    customer_moves: CustomerStatusChanges,
) -> None:
    """`InvalidStatusTransition` (CONFLICT) for a move no role may make; `StatusChangeForbidden`
    (FORBIDDEN) for one this role may not make."""
    if current not in rules.moves_to(target):
        raise InvalidStatusTransition(current=current.value, target=target.value)
    if current not in moves_to(target, as_staff=as_staff, customer_moves=customer_moves):
        raise StatusChangeForbidden(current=current.value, target=target.value)
