class OrderNotFound(Exception):
    """No such order for this user: unknown ids and other users' orders are indistinguishable."""

    def __init__(self) -> None:
        super().__init__("Order not found")


class InvalidStatusTransition(Exception):
    """The status rules forbid this move."""

    def __init__(self, *, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"Cannot change order status from {current} to {target}")


class OrderListForbidden(Exception):
    """A user may list only their own orders."""

    def __init__(self) -> None:
        super().__init__("You can list only your own orders")


class InvalidCursor(Exception):
    """The pagination cursor was not produced by this service."""

    def __init__(self) -> None:
        super().__init__("Invalid pagination cursor")


class IdempotencyKeyReused(Exception):
    """The idempotency key already created an order from a different request."""

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different order request; "
            "use a new key for a new order"
        )
