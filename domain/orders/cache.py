"""What a change of an order needs of the order cache.

The cache holds representations, so it lives with the interfaces (edge/order_cache.py); the domain
only keeps it honest around a change: the cached copy is invalidated before the change commits (the
change is refused when that is impossible), and the changed order is stored after the commit.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from domain.orders.records import OrderRecord
from infra.live import LiveMessage


class OrderCacheWrites(Protocol):
    async def invalidate(self, *, order_id: uuid.UUID, version: int) -> bool:
        """Drop the cached copy and record `version` as the newest; False if that is impossible."""
        ...

    async def store(self, *, order: OrderRecord, then_publish: LiveMessage | None = None) -> bool:
        """Cache `order` unless a newer version is cached; True if it was stored. `then_publish`
        is published in the same call, stored or not."""
        ...
