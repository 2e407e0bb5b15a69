"""Roles, the OAuth2 scopes a token carries for them, and the role check of staff-only operations.

Every user is a `customer` (everyone who registers) or `staff` (made so only by `orders-admin`).
A token carries the scopes of the role its user had when logging in (`orders`, plus `orders:manage`
for staff) or fewer, if fewer were asked for. A staff-only operation needs both: a token with
`orders:manage` and a user who is staff *now*, read through `RoleCache`, so revoking staff takes
effect within `ROLE_CACHE_SECONDS` even for tokens already issued. Customer operations never look
the role up: their cost is the token check alone.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from enum import StrEnum

from domain.users.errors import InvalidScope


class Role(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


# OAuth2 scopes (RFC 6749 §3.3): every user's, and staff's own.
SCOPE_ORDERS = "orders"
SCOPE_MANAGE = "orders:manage"

SCOPES_BY_ROLE: dict[Role, tuple[str, ...]] = {
    Role.CUSTOMER: (SCOPE_ORDERS,),
    Role.STAFF: (SCOPE_ORDERS, SCOPE_MANAGE),
}

# How long a user's role, once read, is believed: the longest a revoked staff member keeps staff powers.
ROLE_CACHE_SECONDS = 5.0
_ROLE_CACHE_SIZE = 10_000


def granted_scopes(role: Role, requested: str | None) -> tuple[str, ...]:
    """The scopes a token of `role` gets: all of the role's, or the `requested` ones (space-separated,
    RFC 6749 §3.3) when given; `InvalidScope` when asking for one the role does not have."""
    allowed = SCOPES_BY_ROLE[role]
    wanted = set((requested or "").split())
    if not wanted:
        return allowed
    if not wanted <= set(allowed):
        raise InvalidScope(sorted(wanted - set(allowed)))
    # In the one canonical order, so equal grants make equal claims.
    return tuple(scope for scope in allowed if scope in wanted)


class RoleCache:
    """Each user's role as read at most `ttl_seconds` ago, in this process.

    Per process, with no shared store: a change reaches every process within the TTL, and a lookup
    that hits costs a dictionary read. Entries age out by time; the oldest go first when full.
    """

    def __init__(
        self, *, ttl_seconds: float = ROLE_CACHE_SECONDS, max_entries: int = _ROLE_CACHE_SIZE
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        # user id -> (role or None for a deleted user, when it was read: a monotonic time)
        self._roles: OrderedDict[int, tuple[Role | None, float]] = OrderedDict()

    async def role_of(
        self, user_id: int, load: Callable[[int], Awaitable[Role | None]]
    ) -> Role | None:
        """The user's role (None: no such user), from `load` when not read in the last TTL."""
        now = time.monotonic()
        remembered = self._roles.get(user_id)
        if remembered is not None and now - remembered[1] < self._ttl:
            return remembered[0]
        role = await load(user_id)
        self._roles.pop(user_id, None)
        if len(self._roles) >= self._max_entries:
            self._roles.popitem(last=False)
        self._roles[user_id] = (role, now)
        return role
