"""The per-request context: who is calling (resolved once), the shared resources, the DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from domain.users import service as users
from domain.users.errors import InvalidToken
from domain.users.schemas import UserOut
from edge.auth import bearer_token, client_ip, rate_limit_identity
from edge.resources import Resources

_NOT_AUTHENTICATED = "Not authenticated"


class Loaders:
    """Per-request DataLoaders: lookups that would otherwise cost one query per row.

    Each batch runs in a unit of work of its own: the fields it serves resolve concurrently and
    never share a session.
    """

    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self.user: DataLoader[int, UserOut | None] = DataLoader(load_fn=self._load_users)

    async def _load_users(self, user_ids: Sequence[int]) -> list[UserOut | None]:
        async with self._resources.unit_of_work(read_only=True) as uow:
            found = await users.get_users(uow=uow, user_ids=user_ids)
        return [
            UserOut.model_validate(found[user_id]) if user_id in found else None
            for user_id in user_ids
        ]


class GraphContext(BaseContext):
    def __init__(
        self,
        *,
        resources: Resources,
        user_id: int | None,
        auth_failure: str | None,
        client_ip: str,
    ) -> None:
        super().__init__()
        self.resources = resources
        self.user_id = user_id
        self.client_ip = client_ip
        self.loaders = Loaders(resources)
        self._auth_failure = auth_failure

    def require_user(self) -> int:
        """The caller's user id; `InvalidToken` (UNAUTHENTICATED) without a valid bearer token."""
        if self.user_id is None:
            raise InvalidToken(self._auth_failure or _NOT_AUTHENTICATED)
        return self.user_id

    @property
    def rate_limit_identity(self) -> str:
        """Whose budget a request spends: the user's, else the client IP's (as on the REST side)."""
        return rate_limit_identity(self.user_id, self.client_ip)


async def get_context(request: Request) -> GraphContext:
    """Verify `Authorization: Bearer <JWT>` once per request; fields needing a user check the result."""
    resources: Resources = request.app.state.resources
    user_id: int | None = None
    auth_failure: str | None = None
    token = bearer_token(request.headers.get("Authorization"))
    if token is not None:
        try:
            user_id = resources.tokens.verify(token)
        except InvalidToken as exc:
            auth_failure = str(exc)
    return GraphContext(
        resources=resources,
        user_id=user_id,
        auth_failure=auth_failure,
        client_ip=client_ip(request.scope),
    )
