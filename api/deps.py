"""Request-scoped dependencies, as `Annotated` aliases for the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from domain.uow import UnitOfWork
from domain.users import service as users
from domain.users.errors import NOT_AUTHENTICATED, InvalidToken
from domain.users.tokens import VerifiedToken
from edge.auth import verified_token
from edge.order_cache import OrderCache
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
bearer_scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)


async def get_current_user_id(
    request: Request, resources: AppResources, token: Annotated[str | None, Depends(bearer_scheme)]
) -> int:
    return (await get_current_caller(request, resources, token)).user_id


CurrentUserId = Annotated[int, Depends(get_current_user_id)]


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    # When the bearer token expires (a Unix time): a live stream ends then.
    token_expires_at: float
    # Everything the token says (its scopes included).
    token: VerifiedToken


async def get_current_caller(
    request: Request, resources: AppResources, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Caller:
    # `token` is what the OpenAPI declares; the verification is the request's one (edge.auth).
    verified = verified_token(request.scope, resources.tokens) if token else None
    if verified is None:
        msg = "Not authenticated"
        raise InvalidToken(msg, reason=NOT_AUTHENTICATED)
    return Caller(user_id=verified.user_id, token_expires_at=verified.expires_at, token=verified)


CurrentCaller = Annotated[Caller, Depends(get_current_caller)]


async def require_staff_caller(resources: AppResources, caller: CurrentCaller) -> Caller:
    """The caller, if a staff member with an `orders:manage` token; 403 otherwise.

    The one "staff only" check of REST routes: `StaffCaller` as a parameter, or
    `dependencies=[Depends(require_staff_caller)]` on a route or router. The role is read through
    the role cache (at most 5 s old), so a revoked staff member's tokens stop working within 5 s.
    """
    async with resources.unit_of_work(read_only=True) as uow:
        await users.require_staff(uow=uow, roles=resources.roles, token=caller.token)
    return caller


StaffCaller = Annotated[Caller, Depends(require_staff_caller)]


async def acts_as_staff(resources: Resources, caller: Caller) -> bool:
    """Whether the caller acts as staff now, for routes that serve both roles; a customer's token
    is answered without any lookup."""
    if not caller.token.manages_orders:
        return False
    async with resources.unit_of_work(read_only=True) as uow:
        return await users.acts_as_staff(uow=uow, roles=resources.roles, token=caller.token)


async def get_order_cache(resources: AppResources) -> OrderCache | None:
    return resources.order_cache


OrderCacheDep = Annotated[OrderCache | None, Depends(get_order_cache)]


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in request.headers


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def form_body(request: Request) -> None:
    """A body must be form data (OAuth2's token request): anything else is 415."""
    if _has_body(request) and _media_type(request) not in _FORM_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "Send the form as `Content-Type: application/x-www-form-urlencoded`",
        )
