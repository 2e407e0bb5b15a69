"""Request-scoped dependencies, as `Annotated` aliases for the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from domain.orders.cache import OrderCache
from domain.uow import UnitOfWork
from domain.users.errors import InvalidToken
from edge.resources import Resources


# Every dependency here is `async def` on purpose: FastAPI runs a plain `def` dependency in the
# thread pool, which costs a thread hop per request on the hottest path.
async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


AppResources = Annotated[Resources, Depends(get_resources)]


async def get_uow(resources: AppResources) -> AsyncIterator[UnitOfWork]:
    """One transaction per request: committed when the route returns, before the response is sent."""
    async with resources.unit_of_work() as uow:
        yield uow


# scope="function": the commit happens right after the route returns, before the answer is sent,
# so a client never sees a success whose transaction then failed.
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]

# Declares the OAuth2 password flow in the OpenAPI (Swagger UI's "Authorize"); the token itself is
# read by edge.auth like everywhere else.
_bearer = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)


async def get_current_user_id(
    resources: AppResources, token: Annotated[str | None, Depends(_bearer)]
) -> int:
    return (await get_current_caller(resources, token)).user_id


CurrentUserId = Annotated[int, Depends(get_current_user_id)]


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    # When the bearer token expires (a Unix time): a live stream ends then.
    token_expires_at: float


async def get_current_caller(
    resources: AppResources, token: Annotated[str | None, Depends(_bearer)]
) -> Caller:
    if not token:
        msg = "Not authenticated"
        raise InvalidToken(msg)
    user_id, expires_at = resources.tokens.verify_until(token)
    return Caller(user_id=user_id, token_expires_at=expires_at)


CurrentCaller = Annotated[Caller, Depends(get_current_caller)]


async def get_order_cache(resources: AppResources) -> OrderCache | None:
    return resources.order_cache


OrderCacheDep = Annotated[OrderCache | None, Depends(get_order_cache)]
