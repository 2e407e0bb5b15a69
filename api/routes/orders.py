"""The order routes of the spec."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Header, Response, status

from api.deps import (
    AppResources,
    CurrentCaller,
    CurrentUserId,
    OrderCacheDep,
    UoW,
    acts_as_staff,
)
from api.etags import etag, expected_version, none_match
from api.ratelimit import limit_per_user
from api.routing import SlashTolerantRouter
from api.schemas import ProblemDetails, error_responses
from domain.orders import history, service
from domain.orders.records import OrderRecord
from domain.orders.schemas import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    ORDER_HISTORY,
    OrderCreate,
    OrderEventOut,
    OrderOut,
    StatusUpdate,
)
from edge.order_cache import OrderRead, read_order
from edge.order_json import order_json

router = SlashTolerantRouter(
    prefix="/orders", tags=["orders"], dependencies=[Depends(limit_per_user)]
)

# Every order route: a token, valid parameters, the rate limit, and PostgreSQL up.
_AUTH_ERRORS = (401, 422, 429, 503)
_ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": 'The order\'s version, quoted (`"3"`): send it back in `If-None-Match` '
        "(GET) or `If-Match` (PATCH)",
        "schema": {"type": "string"},
    }
}
# A body that is not valid JSON is 400 before validation; one that is not JSON at all, 415.
_BODY_ERRORS = (400, 415)


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Makes a retry safe: a new key for each new order (e.g. a UUID), the same key "
        "when the same request is sent again. 1–255 visible ASCII characters; kept 24 hours.",
    ),
]


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    operation_id="createOrder",
    response_model=OrderOut,
    responses={
        **error_responses(*_BODY_ERRORS, *_AUTH_ERRORS),
        201: {
            "headers": {
                **_ETAG_HEADER,
                "Location": {"description": "The order's URL", "schema": {"type": "string"}},
                "Idempotent-Replayed": {
                    "description": "`true` when an earlier request with the same Idempotency-Key "
                    "created this order (nothing was created now)",
                    "schema": {"type": "string", "enum": ["true"]},
                },
            }
        },
    },
)
async def create_order(
    data: OrderCreate,
    user_id: CurrentUserId,
    uow: UoW,
    cache: OrderCacheDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Create a PENDING order. `total_price` is computed by the server (Σ quantity × price).

    With `Idempotency-Key`, a retry of the same request answers 201 with the order the first one
    created (as it is now) and `Idempotent-Replayed: true`, and creates nothing; the same key with a
    different body is 422.
    """
    created = await service.create_order(
        uow=uow, cache=cache, user_id=user_id, data=data, idempotency_key=idempotency_key
    )
    response.headers["Location"] = f"/orders/{created.order.id}/"
    response.headers["ETag"] = etag(created.order.version)
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return _written(created.order, response, status.HTTP_201_CREATED)


def _written(order: OrderRecord, response: Response, status_code: int) -> Response:
    """The answer to a write: the order's JSON, with the headers set so far (the record is not an
    `OrderOut`: returning it would have FastAPI validate and serialise it through the model)."""
    return Response(
        content=order_json(order),
        status_code=status_code,
        media_type="application/json",
        headers=dict(response.headers),
    )


@router.get(
    "/{order_id}/",
    operation_id="getOrder",
    response_model=OrderOut,
    responses={
        **error_responses(*_AUTH_ERRORS, 404),
        200: {
            "headers": {
                **_ETAG_HEADER,
                "X-Cache": {
                    "description": "HIT when served from Redis, else MISS",
                    "schema": {"type": "string", "enum": ["HIT", "MISS"]},
                },
            }
        },
        304: {
            "description": "Not Modified: `If-None-Match` names the current version; no body",
            "headers": _ETAG_HEADER,
        },
    },
)
async def get_order(
    order_id: uuid.UUID,
    caller: CurrentCaller,
    resources: AppResources,
    response: Response,
    if_none_match: Annotated[
        str | None,
        Header(
            alias="If-None-Match",
            description="The ETag of the copy you hold: 304 with no body while it is current.",
        ),
    ] = None,
) -> Response:
    """One of your orders (staff: any order), from the Redis cache when possible (TTL 5 minutes,
    refreshed on change).

    `ETag` is the order's version; with `If-None-Match` naming it, the answer is 304 with no body.
    Unknown ids and other users' orders both answer 404.
    """
    as_staff = await acts_as_staff(resources, caller)
    # Reads open a read-only unit of work here rather than take the UoW dependency: a cache hit
    # needs no session at all, and a miss runs one statement in autocommit.
    async with resources.unit_of_work(read_only=True) as uow:
        read = await read_order(
            uow=uow,
            cache=resources.order_cache,
            user_id=caller.user_id,
            order_id=order_id,
            as_staff=as_staff,
        )
    return order_read_response(read, response.headers, if_none_match)


def order_read_response(
    read: OrderRead, headers: Mapping[str, str], if_none_match: str | None
) -> Response:
    """The answer to a read of one order, here and on the fast path (api/fastpath.py): the cached
    bytes as they are, no parsing, no re-serialising; 304 without them when the client's copy is
    current."""
    headers = {
        **headers,
        "ETag": etag(read.version),
        "X-Cache": "HIT" if read.from_cache else "MISS",
    }
    if none_match(if_none_match, read.version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=read.body, media_type="application/json", headers=headers)


@router.patch(
    "/{order_id}/",
    operation_id="updateOrderStatus",
    response_model=OrderOut,
    responses={
        **error_responses(*_BODY_ERRORS, *_AUTH_ERRORS, 403, 404, 409, 503),
        200: {"headers": _ETAG_HEADER},
        412: {
            "model": ProblemDetails,
            "description": "Precondition Failed: `If-Match` names a version that is no longer "
            "current; `ETag` is the current one",
            "headers": _ETAG_HEADER,
        },
    },
)
async def update_order_status(
    order_id: uuid.UUID,
    data: StatusUpdate,
    caller: CurrentCaller,
    resources: AppResources,
    uow: UoW,
    cache: OrderCacheDep,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='Change the order only if it is still at this version (its ETag, `"3"`); '
            "otherwise 412. Without it, the change applies to whatever version is current.",
        ),
    ] = None,
) -> Response:
    """Change the status: PENDING → PAID | CANCELED, PAID → SHIPPED | CANCELED; others are 409.

    Staff may move any order; a customer only their own (404 otherwise), and with
    CUSTOMER_STATUS_CHANGES=cancel only PENDING → CANCELED: another move the rules allow is 403 and
    changes nothing. An optional `note` (1–500 characters after trimming) goes into the history.

    503 (nothing changed) when the cached copy cannot be invalidated first (Redis unreachable).
    With `If-Match`, only if nobody changed the order since you read it: a stale ETag is 412 (with
    the current `ETag`), and nothing changes.
    """
    updated = await service.update_status(
        uow=uow,
        cache=cache,
        user_id=caller.user_id,
        order_id=order_id,
        status=data.status,
        expected_version=expected_version(if_match),
        as_staff=await acts_as_staff(resources, caller),
        note=data.note,
        customer_moves=resources.customer_moves,
    )
    response.headers["ETag"] = etag(updated.version)
    return _written(updated, response, status.HTTP_200_OK)


@router.get(
    "/{order_id}/history/",
    operation_id="getOrderHistory",
    response_model=list[OrderEventOut],
    responses=error_responses(*_AUTH_ERRORS, 404),
)
async def get_order_history(
    order_id: uuid.UUID, caller: CurrentCaller, resources: AppResources
) -> Response:
    """Everything that happened to one of your orders (staff: any order), oldest first: CREATED,
    every STATUS_CHANGED (with the status before and after), PROCESSED (when the worker finished
    it); each with its `seq` (1, 2, 3 …), time, `actor` (`{"user_id", "role"}`, null for the
    system) and `note`. A customer sees a staff action's role and note, not who acted (`actor`
    without `user_id`). Unknown ids and other users' orders both answer 404."""
    as_staff = await acts_as_staff(resources, caller)
    async with resources.unit_of_work(read_only=True) as uow:
        events = await history.order_history(
            uow=uow, user_id=caller.user_id, order_id=order_id, as_staff=as_staff
        )
    return Response(content=ORDER_HISTORY.dump_json(events), media_type="application/json")
