"""`searchOrders`: the order search as a Relay connection, over the domain's search
(domain/orders/search.py), with the same rules as REST's `GET /orders/`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from pydantic import Field, TypeAdapter

from domain.orders import search as domain
from domain.orders.schemas import MAX_PAGE_SIZE
from graph.context import GraphContext
from graph.types import Order, OrderStatus

_FIRST = TypeAdapter(Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, title="first")])

OrderSort = strawberry.enum(
    domain.OrderSort,
    name="OrderSort",
    description="Search order; ties are broken by id in the same direction.",
)


@strawberry.input(description="Every given condition holds; `status`: any of them.")
class OrderFilter:
    status: list[OrderStatus] | None = strawberry.UNSET  # type: ignore[valid-type]
    user_id: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="One user's orders (staff; a customer: only their own, else FORBIDDEN).",
    )
    created_from: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="With a time zone; inclusive."
    )
    created_to: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="With a time zone; exclusive."
    )
    min_total: Decimal | None = strawberry.UNSET
    max_total: Decimal | None = strawberry.UNSET

    def to_domain(self) -> dict[str, Any]:
        """The given fields under the domain's names; explicit nulls count as not given."""
        fields = {
            "status": self.status,
            "user_id": self.user_id,
            "created_from": self.created_from,
            "created_to": self.created_to,
            "min_total": self.min_total,
            "max_total": self.max_total,
        }
        return {
            name: value
            for name, value in fields.items()
            if value is not strawberry.UNSET and value is not None
        }


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor: pass it as `after` for the next page."
    )


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


async def _total_count(root: OrderConnection, info: strawberry.Info[GraphContext, None]) -> int:
    async with info.context.unit_of_work(read_only=True) as uow:
        return await domain.count_orders(
            uow=uow, requester_id=root.requester_id, as_staff=root.as_staff, search=root.search
        )


@strawberry.type(description="One page of a search, the Relay connection way.")
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo
    search: strawberry.Private[domain.OrderSearch]
    requester_id: strawberry.Private[int]
    as_staff: strawberry.Private[bool]

    total_count: int = strawberry.field(
        resolver=_total_count,
        description="How many orders match (exact); counted only when selected.",
    )


async def search_orders(
    info: strawberry.Info[GraphContext, None],
    filter: OrderFilter | None = strawberry.UNSET,
    sort: OrderSort | None = domain.OrderSort.CREATED_AT_DESC,  # type: ignore[valid-type]
    first: int | None = domain.SEARCH_PAGE_SIZE,
    after: str | None = strawberry.UNSET,
) -> OrderConnection:
    context = info.context
    requester_id = context.require_user()
    # An explicit null means "the default", as an omitted argument does.
    wanted: dict[str, Any] = {
        "filter": filter.to_domain() if isinstance(filter, OrderFilter) else {},
        "cursor": after or None,
    }
    if sort is not None:
        wanted["sort"] = sort
    if first is not None:
        wanted["limit"] = _FIRST.validate_python(first)
    search = domain.OrderSearch.model_validate(wanted)
    as_staff = await context.acts_as_staff()
    async with context.unit_of_work(read_only=True) as uow:
        page = await domain.search_orders(
            uow=uow, requester_id=requester_id, as_staff=as_staff, search=search
        )
    edges = [
        OrderEdge(cursor=cursor, node=Order.from_domain(order))
        for order, cursor in zip(page.orders, page.cursors, strict=True)
    ]
    return OrderConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.next_cursor is not None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        search=search,
        requester_id=requester_id,
        as_staff=as_staff,
    )
