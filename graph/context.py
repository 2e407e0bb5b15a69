"""The per-request context: who is calling (resolved once), the shared resources, the DataLoaders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from domain.orders import history
from domain.orders.schemas import OrderEventOut
from domain.ratelimit.budget import RateLimitExceeded, spend
from domain.uow import UnitOfWork
from domain.users import service as users
from domain.users.errors import INVALID_TOKEN, NOT_AUTHENTICATED, InvalidToken
from domain.users.schemas import UserProfile
from domain.users.tokens import VerifiedToken
from edge.auth import client_ip, rate_limit_identity, verified_token
from edge.ratelimit import rate_limit_headers, rejection_headers
from edge.resources import Resources

_NOT_AUTHENTICATED = "Not authenticated"

# Database connections the fields of one request may hold at once. Sibling fields resolve
# concurrently; unbounded, one request of many aliased fields could take the whole pool (and then
# time out on its own fields), starving every other request.
DB_CONNECTIONS_PER_REQUEST = 2


class Loaders:
    """Per-request DataLoaders: lookups that would otherwise cost one query per row.

    Each batch runs in a unit of work of its own: the fields it serves resolve concurrently and
    never share a session.
    """

    def __init__(self, context: GraphContext) -> None:
        self._context = context
        self.user: DataLoader[int, UserProfile | None] = DataLoader(load_fn=self._load_users)
        # Keyed by (caller, as staff, order). Not cached: a WebSocket's context lives as long as
        # the socket, and a history grows meanwhile.
        self.history: DataLoader[tuple[int, bool, uuid.UUID], list[OrderEventOut]] = DataLoader(
            load_fn=self._load_histories, cache=False
        )

    async def _load_users(self, user_ids: Sequence[int]) -> list[UserProfile | None]:
        async with self._context.unit_of_work(read_only=True) as uow:
            found = await users.get_users(uow=uow, user_ids=user_ids)
        return [
            UserProfile.model_validate(found[user_id]) if user_id in found else None
            for user_id in user_ids
        ]

    async def _load_histories(
        self, keys: Sequence[tuple[int, bool, uuid.UUID]]
    ) -> list[list[OrderEventOut]]:
        found: dict[tuple[int, bool, uuid.UUID], list[OrderEventOut]] = {}
        async with self._context.unit_of_work(read_only=True) as uow:
            for user_id, as_staff in {(user_id, as_staff) for user_id, as_staff, _ in keys}:
                order_ids = [
                    order_id for who, staff, order_id in keys if (who, staff) == (user_id, as_staff)
                ]
                histories = await history.order_histories(
                    uow=uow, user_id=user_id, order_ids=order_ids, as_staff=as_staff
                )
                found.update(
                    {
                        (user_id, as_staff, order_id): events
                        for order_id, events in histories.items()
                    }
                )
        return [found[key] for key in keys]


class GraphContext(BaseContext):
    def __init__(
        self,
        *,
        resources: Resources,
        token: VerifiedToken | None,
        auth_failure: InvalidToken | None,
        client_ip: str,
    ) -> None:
        super().__init__()
        self.resources = resources
        self.token = token
        self.client_ip = client_ip
        self.loaders = Loaders(self)
        self._auth_failure = auth_failure
        self._db_slots = asyncio.Semaphore(DB_CONNECTIONS_PER_REQUEST)

    @asynccontextmanager
    async def unit_of_work(self, *, read_only: bool = False) -> AsyncIterator[UnitOfWork]:
        """`resources.unit_of_work`, within the request's share of the pool: fields beyond
        `DB_CONNECTIONS_PER_REQUEST` wait for a sibling to finish."""
        async with self._db_slots, self.resources.unit_of_work(read_only=read_only) as uow:
            yield uow

    async def spend_rate_limit(self, units: int) -> None:
        """Spend `units` of the caller's default budget (REST's `RATE_LIMIT_DEFAULT`), with the
        X-RateLimit-* headers, or Retry-After and `RateLimitExceeded` past it."""
        resources = self.resources
        try:
            verdict = await spend(
                resources.limiter,
                resources.rate_limits.default,
                self.rate_limit_identity,
                units=units,
            )
        except RateLimitExceeded as exc:
            self._headers(rejection_headers(exc))
            raise
        if verdict is not None:
            self._headers(rate_limit_headers(verdict))

    def _headers(self, headers: dict[str, str]) -> None:
        if self.response is not None:
            self.response.headers.update(headers)

    @property
    def user_id(self) -> int | None:
        return self.token.user_id if self.token is not None else None

    def require_token(self) -> VerifiedToken:
        """The caller's token; `InvalidToken` (UNAUTHENTICATED) without a valid bearer token."""
        if self.token is None:
            if self._auth_failure is None:
                raise InvalidToken(_NOT_AUTHENTICATED, reason=NOT_AUTHENTICATED)
            # A new exception for each field that asks: one raised twice would share its traceback.
            failure = self._auth_failure
            raise InvalidToken(str(failure), reason=failure.reason or INVALID_TOKEN)
        return self.token

    def require_user(self) -> int:
        """The caller's user id; `InvalidToken` (UNAUTHENTICATED) without a valid bearer token."""
        return self.require_token().user_id

    async def acts_as_staff(self) -> bool:
        """Whether the caller acts as staff now (for fields serving both roles); a customer's token
        is answered without any lookup."""
        token = self.require_token()
        if not token.manages_orders:
            return False
        async with self.unit_of_work(read_only=True) as uow:
            return await users.acts_as_staff(uow=uow, roles=self.resources.roles, token=token)

    async def require_staff(self) -> int:
        """The caller's user id if a staff member with an `orders:manage` token (the role read at
        most 5 s ago); FORBIDDEN otherwise, UNAUTHENTICATED without a token."""
        token = self.require_token()
        async with self.unit_of_work(read_only=True) as uow:
            await users.require_staff(uow=uow, roles=self.resources.roles, token=token)
        return token.user_id

    @property
    def rate_limit_identity(self) -> str:
        """Whose budget a request spends: the user's, else the client IP's (as on the REST side)."""
        return rate_limit_identity(self.user_id, self.client_ip)


async def get_context(request: HTTPConnection) -> GraphContext:
    """Verify `Authorization: Bearer <JWT>` once per request; fields needing a user check the result.

    A WebSocket (subscriptions) comes here too, at its upgrade; its connection signs in again with
    `connection_init` (graph/live.py)."""
    resources: Resources = request.app.state.resources
    verified: VerifiedToken | None = None
    auth_failure: InvalidToken | None = None
    try:
        verified = verified_token(request.scope, resources.tokens)
    except InvalidToken as exc:
        auth_failure = exc
    return GraphContext(
        resources=resources,
        token=verified,
        auth_failure=auth_failure,
        client_ip=client_ip(request.scope),
    )
