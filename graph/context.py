"""The per-request context: who is calling (resolved once), the shared services, the DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from domain.users import service as users
from domain.users.errors import InvalidToken
from domain.users.schemas import UserOut
from edge.resources import Services

_NOT_AUTHENTICATED = "Not authenticated"


class Loaders:
    """Per-request DataLoaders: lookups that would otherwise cost one query per row.

    Each batch runs in a unit of work of its own: the fields it serves resolve concurrently and
    never share a session.
    """

    def __init__(self, services: Services) -> None:
        self._services = services
        self.user: DataLoader[int, UserOut | None] = DataLoader(load_fn=self._load_users)

    async def _load_users(self, user_ids: Sequence[int]) -> list[UserOut | None]:
        async with self._services.read_only() as uow:
            found = await users.get_users(uow=uow, user_ids=user_ids)
        return [
            UserOut.model_validate(found[user_id]) if user_id in found else None
            for user_id in user_ids
        ]


class GraphContext(BaseContext):
    def __init__(
        self,
        *,
        services: Services,
        user_id: int | None,
        auth_failure: str | None,
        client_ip: str,
    ) -> None:
        super().__init__()
        self.services = services
        self.user_id = user_id
        self.client_ip = client_ip
        self.loaders = Loaders(services)
        self._auth_failure = auth_failure

    def require_user(self) -> int:
        """The caller's user id; `InvalidToken` (UNAUTHENTICATED) without a valid bearer token."""
        if self.user_id is None:
            raise InvalidToken(self._auth_failure or _NOT_AUTHENTICATED)
        return self.user_id

    @property
    def rate_limit_identity(self) -> str:
        """Whose budget a request spends: the user's, else the client IP's (as on the REST side)."""
        return f"user:{self.user_id}" if self.user_id is not None else f"ip:{self.client_ip}"


async def get_context(request: Request) -> GraphContext:
    """Verify `Authorization: Bearer <JWT>` once per request; fields needing a user check the result."""
    services: Services = request.app.state.services
    user_id: int | None = None
    auth_failure: str | None = None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            user_id = services.tokens.verify(token.strip())
        except InvalidToken as exc:
            auth_failure = str(exc)
    return GraphContext(
        services=services,
        user_id=user_id,
        auth_failure=auth_failure,
        # The TCP peer, or the forwarded client when a trusted proxy relayed the request.
        client_ip=request.client.host if request.client else "unknown",
    )
