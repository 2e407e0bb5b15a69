"""Resolvers: each parses its input, calls one domain service and shapes the answer.

Each mutation runs in a unit of work of its own, committed when the service returns and rolled back
when it raises, so a failed mutation leaves nothing behind. Queries open their own unit of work too:
sibling root fields resolve concurrently and must never share a session.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from pydantic import Field, TypeAdapter

from domain.orders import service as orders
from domain.orders.models import MAX_EVENT_SEQ
from domain.orders.schemas import DEFAULT_PAGE_SIZE, OrderListQuery
from domain.orders.service import OrderPage
from domain.orders.status import OrderStatus
from domain.ratelimit.budget import spend
from domain.users import service as users
from domain.users.errors import InvalidToken
from domain.users.schemas import UserCreate, UserProfile
from edge.auth import rate_limit_identity
from edge.live import order_changes
from edge.order_cache import read_order
from graph.context import GraphContext
from graph.types import CreateOrderInput, Order, OrderEvent, Token, User
from graph.types import OrderPage as OrderPageType

Info = strawberry.Info[GraphContext, None]


async def me(info: Info) -> User:
    user = await info.context.loaders.user.load(info.context.require_user())
    if user is None:
        msg = "The token's account no longer exists"
        raise InvalidToken(msg)
    return User.from_domain(user)


async def order(info: Info, id: uuid.UUID) -> Order | None:
    context = info.context
    user_id = context.require_user()
    as_staff = await context.acts_as_staff()
    async with context.unit_of_work(read_only=True) as uow:
        read = await read_order(
            uow=uow,
            cache=context.resources.order_cache,
            user_id=user_id,
            order_id=id,
            as_staff=as_staff,
        )
    return Order.from_domain(read.order())


async def _list_orders(info: Info, user_id: int, limit: int | None, after: str | None) -> OrderPage:
    context = info.context
    requester_id = context.require_user()
    # An explicit null means "the default", as an omitted argument does.
    query = OrderListQuery.model_validate(
        {"limit": limit, "cursor": after} if limit is not None else {"cursor": after}
    )
    as_staff = requester_id != user_id and await context.acts_as_staff()
    async with context.unit_of_work(read_only=True) as uow:
        return await orders.list_orders(
            uow=uow,
            requester_id=requester_id,
            user_id=user_id,
            limit=query.limit,
            cursor=query.cursor,
            as_staff=as_staff,
        )


async def orders_list(
    info: Info,
    user_id: int,
    limit: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = strawberry.UNSET,
) -> list[Order]:
    page = await _list_orders(info, user_id, limit, after or None)
    return [Order.from_domain(order) for order in page.orders]


async def orders_page(
    info: Info,
    user_id: int,
    limit: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = strawberry.UNSET,
) -> OrderPageType:
    page = await _list_orders(info, user_id, limit, after or None)
    return OrderPageType.from_domain(page)


async def _spend_auth_budget(context: GraphContext) -> None:
    resources = context.resources
    identity = rate_limit_identity(None, context.client_ip)
    await spend(resources.limiter, resources.rate_limits.auth, identity)


async def register(info: Info, email: str, password: str) -> User:
    context = info.context
    await _spend_auth_budget(context)
    data = UserCreate.model_validate({"email": email, "password": password})
    async with context.unit_of_work() as uow:
        user = await users.register_user(uow=uow, hasher=context.resources.hasher, data=data)
    return User.from_domain(UserProfile.model_validate(user))


async def token(
    info: Info,
    email: str,
    password: str,
    scope: str | None = strawberry.UNSET,
    device_token: str | None = strawberry.UNSET,
) -> Token:
    context = info.context
    await _spend_auth_budget(context)
    async with context.unit_of_work() as uow:
        access = await users.issue_token(
            uow=uow,
            hasher=context.resources.hasher,
            tokens=context.resources.tokens,
            email=email,
            password=password,
            client_ip=context.client_ip,
            scope=None if scope is strawberry.UNSET else scope,
            limiter=context.resources.limiter,
            limits=context.resources.rate_limits.login,
            device_token=None if device_token is strawberry.UNSET else device_token,
        )
    return Token.from_domain(access)


async def create_order(
    info: Info,
    input: CreateOrderInput,
    idempotency_key: str | None = None,
) -> Order:
    context = info.context
    user_id = context.require_user()
    data = input.to_domain()
    async with context.unit_of_work() as uow:
        created = await orders.create_order(
            uow=uow,
            cache=context.resources.order_cache,
            user_id=user_id,
            data=data,
            idempotency_key=idempotency_key,
        )
    return Order.from_domain(created.order)


async def update_order_status(
    info: Info,
    id: uuid.UUID,
    status: OrderStatus,
    expected_version: int | None = strawberry.UNSET,
    note: str | None = strawberry.UNSET,
) -> Order:
    context = info.context
    user_id = context.require_user()
    as_staff = await context.acts_as_staff()
    async with context.unit_of_work() as uow:
        updated = await orders.update_status(
            uow=uow,
            cache=context.resources.order_cache,
            user_id=user_id,
            order_id=id,
            status=status,
            expected_version=None if expected_version is strawberry.UNSET else expected_version,
            as_staff=as_staff,
            note=None if note is strawberry.UNSET else note,
            customer_moves=context.resources.customer_moves,
        )
    return Order.from_domain(updated)


_AFTER_SEQ = TypeAdapter(Annotated[int, Field(ge=0, le=MAX_EVENT_SEQ, title="afterSeq")])


async def _live(
    info: Info, order_id: uuid.UUID | None, after_seq: int | None
) -> AsyncGenerator[OrderEvent, None]:
    context = info.context
    user_id = context.require_user()
    resources = context.resources
    changes = order_changes(
        resources,
        user_id=user_id,
        # Staff follow any order; every user's own orders (`myOrderEvents`) are their own.
        as_staff=order_id is not None and await context.acts_as_staff(),
        order_id=order_id,
        after_seq=None if after_seq is None else _AFTER_SEQ.validate_python(after_seq),
        # The WebSocket is closed (1001) when the process stops; the subscription never completes.
        ends_on_drain=False,
    )
    async with contextlib.aclosing(changes):
        async for change in changes:
            if change is not None:
                yield OrderEvent.from_domain(change.order_id, change.event)


def order_events(
    info: Info, id: uuid.UUID, after_seq: int | None = strawberry.UNSET
) -> AsyncGenerator[OrderEvent, None]:
    return _live(info, id, None if after_seq is strawberry.UNSET else after_seq)


def my_order_events(info: Info) -> AsyncGenerator[OrderEvent, None]:
    return _live(info, None, None)
