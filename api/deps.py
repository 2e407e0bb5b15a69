"""Request-scoped dependencies, as `Annotated` aliases for the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from domain.orders.cache import OrderCache
from domain.uow import UnitOfWork
from domain.users.errors import InvalidToken
from edge.resources import Services


# Every dependency here is `async def` on purpose: FastAPI runs a plain `def` dependency in the
# thread pool, which costs a thread hop per request on the hottest path.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


State = Annotated[Services, Depends(get_services)]


async def get_uow(state: State) -> AsyncIterator[UnitOfWork]:
    """One transaction per request: committed when the route returns, before the response is sent."""
    async with state.unit_of_work() as uow:
        yield uow


# scope="function": the commit happens right after the route returns, before the answer is sent,
# so a client never sees a success whose transaction then failed.
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]

_bearer = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)


async def get_current_user_id(state: State, token: Annotated[str | None, Depends(_bearer)]) -> int:
    if not token:
        msg = "Not authenticated"
        raise InvalidToken(msg)
    return state.tokens.verify(token)


CurrentUserId = Annotated[int, Depends(get_current_user_id)]


async def get_order_cache(state: State) -> OrderCache | None:
    return state.order_cache


OrderCacheDep = Annotated[OrderCache | None, Depends(get_order_cache)]
