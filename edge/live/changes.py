"""A subscriber's stream of order changes: the stored events it missed, then the live ones, exact.

Both interfaces stream through `order_changes`: GraphQL subscriptions (graph/resolvers.py) and REST
Server-Sent Events (api/routes/order_events.py). The hub (edge/live/hub.py) delivers live events
best effort; edge/live/merge.py drops duplicates and finds gaps, which are filled from the table.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from domain.orders import history
from domain.orders.schemas import OrderChange
from edge.live.hub import Signal
from edge.live.merge import Delivered
from edge.order_cache import read_order

if TYPE_CHECKING:  # the resources hold the hub
    from edge.resources import Resources


async def order_changes(
    resources: Resources,
    *,
    user_id: int,
    order_id: uuid.UUID | None = None,
    after_seq: int | None = None,
    tick: float | None = None,
    ends_on_drain: bool,
    as_staff: bool = False,
) -> AsyncGenerator[OrderChange | None, None]:
    """The changes of `user_id`'s order `order_id` (or of all their orders), live, in `seq` order.
    `as_staff` (checked by the caller): any order's, with who did what; a customer sees a staff
    action's role and note, not who acted.

    With `after_seq`, the stored events after it come first, then the live ones, with no gap and no
    duplicate in between. `OrderNotFound` if the order is not the user's; `TooManyLiveSubscriptions`
    past the limit. None means "nothing to deliver": it comes first, once the subscription is open
    and checked (so a caller can answer errors before it starts streaming), then after every `tick`
    idle seconds (heartbeats). With `ends_on_drain`, the stream ends when the process stops (SSE);
    without, it waits for its connection to be closed (a WebSocket subscription must not complete:
    its client would take that as the end, not as a reason to reconnect).
    """
    async with resources.live.subscribe(
        user_id=user_id, order_id=order_id, ends_on_drain=ends_on_drain
    ) as inbox:
        delivered = Delivered()
        if order_id is not None:
            async with resources.unit_of_work(read_only=True) as uow:
                await read_order(
                    uow=uow,
                    cache=resources.order_cache,
                    user_id=user_id,
                    order_id=order_id,
                    as_staff=as_staff,
                )
        yield None
        if order_id is not None and after_seq is not None:
            delivered.start(order_id, after_seq)
            for change in delivered.take(
                await _stored_after(resources, user_id, order_id, after_seq, as_staff)
            ):
                yield change if as_staff else change.seen_by_customer()
        while True:
            try:
                item = await asyncio.wait_for(inbox.queue.get(), tick)
            except TimeoutError:
                yield None
                continue
            if item is Signal.CLOSED:
                return
            pending = await _pending(resources, user_id, delivered, item, as_staff)
            for change in delivered.take(pending):
                yield change if as_staff else change.seen_by_customer()


async def _pending(
    resources: Resources,
    user_id: int,
    delivered: Delivered,
    item: OrderChange | Signal,
    as_staff: bool,
) -> list[OrderChange]:
    """What `item` from the inbox asks to deliver: after a resync, everything stored past what was
    delivered; an event that reveals a gap, the stored events from the gap on (itself included)."""
    if isinstance(item, Signal):  # RESYNC: the inbox overflowed, events were dropped
        pending: list[OrderChange] = []
        for order_id, seq in delivered.positions():
            pending += await _stored_after(resources, user_id, order_id, seq, as_staff)
        return pending
    gap = delivered.gap_before(item)
    if gap is not None:
        return await _stored_after(resources, user_id, item.order_id, gap, as_staff)
    return [item]


async def _stored_after(
    resources: Resources, user_id: int, order_id: uuid.UUID, after_seq: int, as_staff: bool
) -> list[OrderChange]:
    async with resources.unit_of_work(read_only=True) as uow:
        events = await history.events_after(
            uow=uow, user_id=user_id, order_id=order_id, after_seq=after_seq, as_staff=as_staff
        )
    return [OrderChange(order_id=order_id, user_id=user_id, event=event) for event in events]
