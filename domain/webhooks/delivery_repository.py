"""All SQL of the dispatcher's side of webhooks: fanning order events out to deliveries, leasing
them, recording attempts, and the delivery log's retention.

Each operation is one statement for a whole batch (order events, attempts): at hundreds of
deliveries a second, a statement (and a transaction) per delivery spent the time in round trips.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, any_, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from domain.orders.models import Order, OrderEvent
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint

_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_ORDER_IDS = bindparam("order_ids", type_=ARRAY(Uuid()))


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased for one attempt, with what that attempt needs of its endpoint."""

    id: str
    endpoint_id: uuid.UUID
    order_id: uuid.UUID
    seq: int
    event_type: str
    payload: dict[str, Any]
    tries: int
    traceparent: str | None
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    # The endpoint's failed deliveries in a row when the lease was taken.
    consecutive_failures: int
    # The lease this attempt holds: its outcome is recorded only if the lease is still this one.
    leased_until: datetime


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt's outcome, as `record_attempts` writes it."""

    delivery_id: str
    leased_until: datetime
    # The attempt's entry of the log, as JSON text.
    attempt: str
    status: str
    next_attempt_at: datetime | None
    finished_at: datetime | None


# The orders' cursors, created where missing and locked (in the order given: callers sort, so
# concurrent fan-outs never lock the same cursors in opposite orders). A missing cursor starts after
# the order's events older than `horizon`: the retention removes a cursor only once every event of
# its order is older than that, so those were fanned out already (domain/retention.py).
_LOCK_CURSORS = text(
    """
INSERT INTO webhook_order_cursors (order_id, seq)
SELECT c.order_id,
       coalesce((SELECT max(e.seq) FROM order_events e
                 WHERE e.order_id = c.order_id AND e.at < :horizon), 0)
FROM unnest(CAST(:order_ids AS uuid[])) WITH ORDINALITY AS c(order_id, n)
ORDER BY c.n
ON CONFLICT (order_id) DO UPDATE SET seq = webhook_order_cursors.seq
RETURNING order_id, seq
"""
)

_SET_CURSORS = text(
    """
UPDATE webhook_order_cursors c SET seq = v.seq
FROM unnest(CAST(:order_ids AS uuid[]), CAST(:seqs AS integer[])) AS v(order_id, seq)
WHERE c.order_id = v.order_id
"""
)

# For each enabled endpoint that is not saturated, its first `per_endpoint` deliveries that are due,
# not in flight, and not behind an earlier event of the same order to the same endpoint that is
# still pending (per-order order): one short range of ix_webhook_deliveries_endpoint_id_due each, so
# one slow endpoint's backlog never fills a claim nor makes it slower for the others.
_CLAIM = text(
    """
WITH chosen AS (
    SELECT d.id
    FROM webhook_endpoints e
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
        WHERE d.endpoint_id = e.id
          AND d.status = 'pending'
          AND d.next_attempt_at <= :now
          AND (d.leased_until IS NULL OR d.leased_until < :now)
          AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries p
              WHERE p.endpoint_id = d.endpoint_id AND p.order_id = d.order_id
                AND p.seq < d.seq AND p.status = 'pending'
          )
        ORDER BY d.next_attempt_at
        LIMIT :per_endpoint
        FOR UPDATE OF d SKIP LOCKED
    ) d
    WHERE e.enabled AND e.id <> ALL(CAST(:saturated AS uuid[]))
    ORDER BY d.next_attempt_at
    LIMIT :limit
)
UPDATE webhook_deliveries d SET leased_until = :lease_until
FROM chosen, webhook_endpoints e
WHERE d.id = chosen.id AND e.id = d.endpoint_id
  AND d.status = 'pending' AND (d.leased_until IS NULL OR d.leased_until < :now)
RETURNING d.id, d.endpoint_id, d.order_id, d.seq, d.event_type, d.payload, d.tries,
          d.traceparent, e.url, e.secret, e.previous_secret, e.previous_secret_until,
          e.consecutive_failures, d.leased_until
"""
)

# Each attempt appended and its outcome set, where the attempt's lease still holds the delivery.
_RECORD = text(
    """
UPDATE webhook_deliveries d
SET attempts = d.attempts || CAST(v.attempt AS jsonb), tries = d.tries + 1, status = v.status,
    next_attempt_at = v.next_attempt_at, leased_until = NULL, finished_at = v.finished_at
FROM unnest(CAST(:ids AS text[]), CAST(:leases AS timestamptz[]), CAST(:attempts AS text[]),
            CAST(:statuses AS text[]), CAST(:next AS timestamptz[]),
            CAST(:finished AS timestamptz[]))
     AS v(id, leased_until, attempt, status, next_attempt_at, finished_at)
WHERE d.id = v.id AND d.leased_until = v.leased_until
RETURNING d.id, d.endpoint_id
"""
)


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- fan-out -----------------------------------------------------------------------------------

    async def lock_cursors(
        self, *, order_ids: Sequence[uuid.UUID], horizon: datetime
    ) -> dict[uuid.UUID, int]:
        """How far each order's history has been fanned out, the cursors locked until the end of
        the transaction (concurrent fan-outs of one order take turns)."""
        result = await self._session.execute(
            _LOCK_CURSORS, {"order_ids": list(order_ids), "horizon": horizon}
        )
        return {row.order_id: int(row.seq) for row in result}

    async def set_cursors(self, seqs: Mapping[uuid.UUID, int]) -> None:
        await self._session.execute(
            _SET_CURSORS, {"order_ids": list(seqs), "seqs": list(seqs.values())}
        )

    async def events(
        self, *, order_ids: Sequence[uuid.UUID], up_to_seq: int
    ) -> Sequence[OrderEvent]:
        """The orders' events up to `up_to_seq`, by order and `seq`."""
        stmt = (
            select(OrderEvent)
            .where(OrderEvent.order_id == any_(_ORDER_IDS), OrderEvent.seq <= up_to_seq)
            .order_by(OrderEvent.order_id, OrderEvent.seq)
        )
        return (await self._session.execute(stmt, {"order_ids": list(order_ids)})).scalars().all()

    async def orders(self, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
        table = cast(Table, Order.__table__)
        stmt = select(*table.c).where(table.c.id == any_(_ORDER_IDS))
        result = await self._session.execute(stmt, {"order_ids": list(order_ids)})
        return {row.id: row for row in result}

    async def subscribers(self) -> Sequence[Row[uuid.UUID, list[str], datetime]]:
        """The enabled endpoints: (id, events, created_at)."""
        stmt = select(WebhookEndpoint.id, WebhookEndpoint.events, WebhookEndpoint.created_at).where(
            WebhookEndpoint.enabled
        )
        return (await self._session.execute(stmt)).all()

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert deliveries; one that exists already (the same event to the same endpoint) is kept."""
        if rows:
            await self._session.execute(
                insert(_DELIVERIES).on_conflict_do_nothing(
                    index_elements=["endpoint_id", "order_id", "seq"]
                ),
                list(rows),
            )

    # --- attempts ----------------------------------------------------------------------------------

    async def claim(
        self,
        *,
        now: datetime,
        lease_until: datetime,
        limit: int,
        per_endpoint: int,
        saturated: Sequence[uuid.UUID],
    ) -> list[ClaimedDelivery]:
        result = await self._session.execute(
            _CLAIM,
            {
                "now": now,
                "lease_until": lease_until,
                "limit": limit,
                "per_endpoint": per_endpoint,
                "saturated": list(saturated),
            },
        )
        return [ClaimedDelivery(**row._mapping) for row in result]

    async def record_attempts(self, records: Sequence[AttemptRecord]) -> dict[str, uuid.UUID]:
        """Append the attempts and set the outcomes where the attempts' leases still hold their
        deliveries; the endpoint of each delivery recorded, by delivery id (missing: deleted, or
        taken over after the lease ran out)."""
        result = await self._session.execute(
            _RECORD,
            {
                "ids": [record.delivery_id for record in records],
                "leases": [record.leased_until for record in records],
                "attempts": [record.attempt for record in records],
                "statuses": [record.status for record in records],
                "next": [record.next_attempt_at for record in records],
                "finished": [record.finished_at for record in records],
            },
        )
        return {row.id: row.endpoint_id for row in result}

    # --- upkeep ------------------------------------------------------------------------------------

    async def count_pending(self) -> int:
        stmt = (
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
        )
        return int((await self._session.execute(stmt)).scalar_one())

    async def purge_succeeded_before(self, *, before: datetime, limit: int) -> int:
        oldest = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "succeeded", WebhookDelivery.finished_at < before)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self._session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.id.in_(oldest))
        )
        return int(getattr(result, "rowcount", 0) or 0)
