"""Live order events over Server-Sent Events: `GET /orders/{order_id}/events/`."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header
from fastapi.responses import StreamingResponse

from api.deps import AppResources, CurrentCaller, acts_as_staff
from api.ratelimit import limit_per_user
from api.routing import SlashTolerantRouter
from api.schemas import error_responses
from domain.orders.models import MAX_EVENT_SEQ
from domain.orders.schemas import OrderChange
from edge.live import order_changes

router = SlashTolerantRouter(
    prefix="/orders", tags=["orders"], dependencies=[Depends(limit_per_user)]
)

_SSE_EXAMPLE = (
    "id: 2\n"
    "event: order\n"
    'data: {"seq":2,"kind":"STATUS_CHANGED","status":"PAID","previous_status":"PENDING",'
    '"at":"2026-11-30T10:00:00Z"}\n\n'
)
_HEARTBEAT = b": ping\n\n"


def _frame(change: OrderChange) -> bytes:
    data = change.event.model_dump_json()
    return f"id: {change.event.seq}\nevent: order\ndata: {data}\n\n".encode()


@router.get(
    "/{order_id}/events/",
    operation_id="streamOrderEvents",
    response_class=StreamingResponse,
    responses={
        **error_responses(401, 404, 422, 429, 503),
        200: {
            "description": "A stream of `order` events, one per change of the order",
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "example": _SSE_EXAMPLE}
            },
        },
    },
)
async def stream_order_events(
    order_id: uuid.UUID,
    caller: CurrentCaller,
    resources: AppResources,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=MAX_EVENT_SEQ,
            description="Resume after this `seq`: the stored events after it come first, then the "
            "live ones, with no gap and no duplicate (`0`: the whole history first).",
        ),
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events of one of your orders (staff: any order) as they happen (from any API process): each event is
    `id: <seq>`, `event: order`, `data: <the history entry as JSON>`. A comment (`: ping`) comes every
    LIVE_PING_INTERVAL_SECONDS when idle. The stream ends once your token has expired (at the next
    heartbeat) or when the server stops; reconnect with `Last-Event-ID` to miss nothing. 404 for an order that is not yours; 429
    past LIVE_MAX_SUBSCRIPTIONS_PER_USER live subscriptions."""
    changes = order_changes(
        resources,
        user_id=caller.user_id,
        order_id=order_id,
        after_seq=last_event_id,
        tick=resources.live.settings.ping_interval_seconds,
        ends_on_drain=True,
        as_staff=await acts_as_staff(resources, caller),
    )
    # The first item comes once the subscription is open and the order checked: errors answer as
    # usual (404, 429) before the stream starts.
    await anext(changes)

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield _HEARTBEAT
            async for change in changes:
                if time.time() >= caller.token_expires_at:
                    return
                yield _HEARTBEAT if change is None else _frame(change)
        finally:
            await changes.aclose()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        # No caching, and no buffering by proxies such as nginx: each event goes out at once.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
