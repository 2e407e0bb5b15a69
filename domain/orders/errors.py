"""Errors of this area; each names its kind (domain/errors.py), which the interfaces map."""

from domain.errors import DomainError, ErrorKind


class OrderNotFound(DomainError):
    """No such order for this user: unknown ids and other users' orders are indistinguishable."""

    kind = ErrorKind.NOT_FOUND
    reason = "ORDER_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("Order not found")


class InvalidStatusTransition(DomainError):
    """The status rules forbid this move."""

    kind = ErrorKind.CONFLICT
    reason = "INVALID_TRANSITION"

    def __init__(self, *, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"Cannot change order status from {current} to {target}")


class OrderListForbidden(DomainError):
    """A user may list only their own orders."""

    kind = ErrorKind.FORBIDDEN
    reason = "NOT_OWNER"

    def __init__(self) -> None:
        super().__init__("You can list only your own orders")


class InvalidCursor(DomainError):
    """The pagination cursor was not produced by this service (or, for a search, by this search)."""

    kind = ErrorKind.BAD_INPUT
    reason = "INVALID_CURSOR"

    def __init__(self, message: str = "Invalid pagination cursor") -> None:
        super().__init__(message)


class IdempotencyKeyReused(DomainError):
    """The idempotency key already created an order from a different request."""

    kind = ErrorKind.BAD_INPUT
    reason = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different order request; "
            "use a new key for a new order"
        )


class OrderCacheUnavailable(DomainError):
    """A change could not first take the order's cached copy out of service (Redis unreachable):
    it is refused rather than committed, or the old copy could outlive it."""

    kind = ErrorKind.UNAVAILABLE
    reason = "CACHE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("The order cache is unavailable; try again shortly")


class OrderVersionMismatch(DomainError):
    """The client's precondition (`If-Match`, `expectedVersion`) names a version that is not current."""

    kind = ErrorKind.PRECONDITION_FAILED
    reason = "VERSION_MISMATCH"

    def __init__(self, *, current_version: int) -> None:
        self.current_version = current_version
        super().__init__(
            f"The order has changed: its current version is {current_version}; "
            "read it again before changing it"
        )


class TooManyLiveSubscriptions(DomainError):
    """A user holds as many live subscriptions (GraphQL or SSE, on any API process) as allowed."""

    kind = ErrorKind.RATE_LIMITED
    reason = "TOO_MANY_SUBSCRIPTIONS"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"Too many live subscriptions: at most {limit} at once; close one before opening another"
        )


class StatusChangeForbidden(DomainError):
    """The move exists, but not for this role (CUSTOMER_STATUS_CHANGES=cancel: only staff pay and
    ship); nothing changes."""

    kind = ErrorKind.FORBIDDEN
    reason = "STAFF_ONLY_MOVE"

    def __init__(self, *, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(
            f"Only staff may change an order's status from {current} to {target}; "
            "customers may cancel their own PENDING orders"
        )


class SearchForbidden(DomainError):
    """A customer's search named another user's orders."""

    kind = ErrorKind.FORBIDDEN
    reason = "NOT_OWNER"

    def __init__(self) -> None:
        super().__init__("user_id: you can search only your own orders")
