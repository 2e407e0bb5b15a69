"""The order lists: `GET /orders/`, the search (staff: every order; customers: their own), and
`GET /orders/user/{user_id}/`, one user's orders newest first (the spec's route)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import AppResources, CurrentCaller, acts_as_staff
from api.pagination import NEXT_PAGE_HEADER, next_page_link
from api.ratelimit import limit_per_user
from api.routing import SlashTolerantRouter
from api.schemas import error_responses
from domain.orders import service
from domain.orders.schemas import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, OrderOut
from domain.orders.search import (
    MAX_USER_ID,
    SEARCH_PAGE_SIZE,
    OrderSearch,
    OrderSort,
    search_orders,
)
from domain.orders.status import OrderStatus
from edge.order_json import orders_json

MoneyBound = Annotated[
    Decimal | None, Query(description='The money rules: "17.00", at most two decimals.')
]

router = SlashTolerantRouter(
    prefix="/orders", tags=["orders"], dependencies=[Depends(limit_per_user)]
)


async def _wanted_search(
    request: Request,
    status: Annotated[
        list[OrderStatus] | None,
        Query(description="Repeatable: `?status=PAID&status=SHIPPED` matches either."),
    ] = None,
    user_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_USER_ID,
            description="One user's orders (staff; a customer: only their own).",
        ),
    ] = None,
    created_from: Annotated[
        datetime | None,
        Query(description="ISO 8601 with a time zone; inclusive."),
    ] = None,
    created_to: Annotated[
        datetime | None,
        Query(description="ISO 8601 with a time zone; exclusive."),
    ] = None,
    min_total: MoneyBound = None,
    max_total: MoneyBound = None,
    sort: Annotated[OrderSort, Query()] = OrderSort.CREATED_AT_DESC,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = SEARCH_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="From the `Link` of the previous page."),
    ] = None,
    count: Annotated[
        bool, Query(description="`true`: the exact number of matches in `X-Total-Count`.")
    ] = False,
) -> OrderSearch:
    """The search the query asks for, judged by the domain's own model."""
    query = request.query_params
    raw = {
        "status": query.getlist("status") or None,
        "user_id": query.get("user_id"),
        "created_from": query.get("created_from"),
        "created_to": query.get("created_to"),
        "min_total": query.get("min_total"),
        "max_total": query.get("max_total"),
    }
    try:
        # The domain's own model judges the values (the money rules, aware times), not FastAPI's
        # looser parsing above, which only documents them.
        wanted = OrderSearch.model_validate(
            {
                "filter": {name: value for name, value in raw.items() if value is not None},
                "sort": sort,
                "limit": limit,
                "cursor": cursor,
                "count": count,
            }
        )
    except ValidationError as exc:
        raise RequestValidationError(_query_errors(exc)) from exc
    return wanted


@router.get(
    "/",
    response_model=list[OrderOut],
    responses={
        **error_responses(401, 403, 422, 429),
        200: {
            "headers": {
                "Link": NEXT_PAGE_HEADER,
                "X-Total-Count": {
                    "description": "With `count=true`: how many orders match (exact)",
                    "schema": {"type": "integer"},
                },
            }
        },
    },
)
async def search(
    caller: CurrentCaller,
    resources: AppResources,
    request: Request,
    wanted: Annotated[OrderSearch, Depends(_wanted_search)],
) -> Response:
    """Search orders: staff search every order, a customer their own (naming another `user_id` is
    403). Each order is exactly as `GET /orders/{id}/` answers it; pages are keyset pages (sort
    column, then id), so an order matching when the first page was read appears exactly once
    across the pages while others are created. A cursor works only with the filters and sort it
    came with (otherwise 422)."""
    as_staff = await acts_as_staff(resources, caller)
    async with resources.unit_of_work(read_only=True) as uow:
        page = await search_orders(
            uow=uow, requester_id=caller.user_id, as_staff=as_staff, search=wanted
        )
    headers = next_page_link(request, page.next_cursor)
    if page.total is not None:
        headers["X-Total-Count"] = str(page.total)
    return Response(
        content=orders_json(page.orders), media_type="application/json", headers=headers
    )


def _query_errors(exc: ValidationError) -> list[dict[str, object]]:
    """The model's errors located as query parameters (`filter.min_total` → `query.min_total`)."""
    errors = []
    for error in exc.errors(include_url=False):
        location = [part for part in error["loc"] if part != "filter"]
        errors.append({**error, "loc": ("query", *location)})
    return errors


@router.get(
    "/user/{user_id}/",
    operation_id="listUserOrders",
    response_model=list[OrderOut],
    responses={
        **error_responses(401, 403, 422, 429, 503),
        200: {"headers": {"Link": NEXT_PAGE_HEADER}},
    },
)
async def list_user_orders(
    user_id: int,
    caller: CurrentCaller,
    resources: AppResources,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> Response:
    """Your orders, newest first (staff: any user's; others' are 403). When more remain,
    `Link: <…>; rel="next"` gives the next page."""
    as_staff = caller.user_id != user_id and await acts_as_staff(resources, caller)
    async with resources.unit_of_work(read_only=True) as uow:
        page = await service.list_orders(
            uow=uow,
            requester_id=caller.user_id,
            user_id=user_id,
            limit=limit,
            cursor=cursor,
            as_staff=as_staff,
        )
    # Written from the records: returning them would have FastAPI validate them through the model.
    return Response(
        content=orders_json(page.orders),
        media_type="application/json",
        headers={**response.headers, **next_page_link(request, page.next_cursor, limit=limit)},
    )
