"""Stored and live events of orders, merged into one exact stream by their per-order `seq`.

Live events are best effort (a message lost while Redis reconnected, an inbox that overflowed, two
processes publishing out of order); every event also sits in the history table with its `seq`. So a
subscriber remembers the last `seq` it delivered per order: an event at or below it is a duplicate,
and an event past the next one reveals a gap, to be filled from the table before it. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from domain.orders.schemas import OrderChange


class Delivered:
    """The last `seq` delivered to one subscriber, per order."""

    def __init__(self) -> None:
        self._last: dict[uuid.UUID, int] = {}

    def start(self, order_id: uuid.UUID, after_seq: int) -> None:
        """The subscriber already has `order_id`'s events up to `after_seq` (a resumed stream)."""
        self._last[order_id] = after_seq

    def positions(self) -> list[tuple[uuid.UUID, int]]:
        """Every order delivered so far, with its last `seq`: where a resync reads from."""
        return list(self._last.items())

    def gap_before(self, change: OrderChange) -> int | None:
        """The last `seq` delivered of `change`'s order when `change` skips events after it (read
        the table after it first); None when nothing is missing."""
        known = self._last.get(change.order_id)
        if known is not None and change.event.seq > known + 1:
            return known
        return None

    def take(self, changes: Iterable[OrderChange]) -> list[OrderChange]:
        """`changes` without those already delivered, in their order, each recorded as delivered."""
        fresh: list[OrderChange] = []
        for change in changes:
            known = self._last.get(change.order_id)
            if known is not None and change.event.seq <= known:
                continue
            self._last[change.order_id] = change.event.seq
            fresh.append(change)
        return fresh
