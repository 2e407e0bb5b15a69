"""All SQL of webhooks: endpoints (the API's side) and deliveries (the dispatcher's side)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders.models import Order, OrderEvent
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookOrderCursor

_DELIVERIES = cast(Table, WebhookDelivery.__table__)


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


# Due, not in flight, on an enabled endpoint that is not saturated, and not behind an earlier event
# of the same order to the same endpoint that is still pending (per-order order). At most
# `per_endpoint` per endpoint, so one slow endpoint's backlog never fills a claim.
_CLAIM = text(
    """
WITH candidates AS (
    SELECT d.id, row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at) AS rank
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    WHERE d.status = 'pending'
      AND d.next_attempt_at <= :now
      AND (d.leased_until IS NULL OR d.leased_until < :now)
      AND e.enabled
      AND d.endpoint_id <> ALL(CAST(:saturated AS uuid[]))
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries p
          WHERE p.endpoint_id = d.endpoint_id AND p.order_id = d.order_id
            AND p.seq < d.seq AND p.status = 'pending'
      )
    ORDER BY d.next_attempt_at
    LIMIT :scan
), chosen AS (
    SELECT d.id FROM webhook_deliveries d
    JOIN candidates c ON c.id = d.id
    WHERE c.rank <= :per_endpoint
    ORDER BY d.next_attempt_at
    LIMIT :limit
    FOR UPDATE OF d SKIP LOCKED
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

_RECORD = text(
    """
UPDATE webhook_deliveries
SET attempts = attempts || CAST(:attempt AS jsonb), tries = tries + 1, status = :status,
    next_attempt_at = :next_attempt_at, leased_until = NULL, finished_at = :finished_at
WHERE id = :id AND leased_until = :leased_until
RETURNING endpoint_id
"""
)


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- endpoints ---------------------------------------------------------------------------------

    async def add(self, endpoint: WebhookEndpoint) -> None:
        self._session.add(endpoint)
        await self._session.flush()

    async def get(self, webhook_id: uuid.UUID, *, lock: bool = False) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == webhook_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def all(self) -> Sequence[WebhookEndpoint]:
        stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        return (await self._session.execute(stmt)).scalars().all()

    async def delete(self, endpoint: WebhookEndpoint) -> None:
        """The endpoint and its deliveries (ON DELETE CASCADE): pending ones are dropped."""
        await self._session.delete(endpoint)
        await self._session.flush()

    async def count_disabled(self) -> int:
        stmt = select(func.count()).select_from(WebhookEndpoint).where(~WebhookEndpoint.enabled)
        return int((await self._session.execute(stmt)).scalar_one())

    # --- the delivery log --------------------------------------------------------------------------

    async def deliveries(
        self,
        *,
        webhook_id: uuid.UUID,
        status: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> Sequence[WebhookDelivery]:
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == webhook_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if after is not None:
            stmt = stmt.where(
                func.row(WebhookDelivery.created_at, WebhookDelivery.id)
                < func.row(after[0], after[1])
            )
        stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(
            limit
        )
        return (await self._session.execute(stmt)).scalars().all()

    async def delivery(
        self, *, webhook_id: uuid.UUID, delivery_id: str, lock: bool = False
    ) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == webhook_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self._session.execute(stmt)).scalar_one_or_none()

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

    # --- fan-out -----------------------------------------------------------------------------------

    async def advance_cursor(self, *, order_id: uuid.UUID) -> int:
        """How far the order's history has been fanned out, its cursor row locked until the end of
        the transaction (concurrent fan-outs of one order take turns)."""
        stmt = (
            insert(WebhookOrderCursor)
            .values(order_id=order_id, seq=0)
            .on_conflict_do_update(
                index_elements=[WebhookOrderCursor.order_id],
                set_={"seq": WebhookOrderCursor.seq},
            )
            .returning(WebhookOrderCursor.seq)
        )
        return int((await self._session.execute(stmt)).scalar_one())

    async def set_cursor(self, *, order_id: uuid.UUID, seq: int) -> None:
        await self._session.execute(
            update(WebhookOrderCursor)
            .where(WebhookOrderCursor.order_id == order_id)
            .values(seq=seq)
        )

    async def order_with_events(
        self, *, order_id: uuid.UUID, after_seq: int, up_to_seq: int
    ) -> tuple[Row[Any] | None, Sequence[OrderEvent]]:
        order = (
            await self._session.execute(
                select(*cast(Table, Order.__table__).c).where(Order.id == order_id)
            )
        ).one_or_none()
        events = (
            (
                await self._session.execute(
                    select(OrderEvent)
                    .where(
                        OrderEvent.order_id == order_id,
                        OrderEvent.seq > after_seq,
                        OrderEvent.seq <= up_to_seq,
                    )
                    .order_by(OrderEvent.seq)
                )
            )
            .scalars()
            .all()
        )
        return order, events

    async def subscribers(self) -> Sequence[Row[uuid.UUID, list[str], datetime]]:
        """The enabled endpoints: (id, events, created_at)."""
        stmt = select(WebhookEndpoint.id, WebhookEndpoint.events, WebhookEndpoint.created_at).where(
            WebhookEndpoint.enabled
        )
        return (await self._session.execute(stmt)).all()

    async def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
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
                "scan": limit * 4,
                "per_endpoint": per_endpoint,
                "saturated": list(saturated),
            },
        )
        return [ClaimedDelivery(**row._mapping) for row in result]

    async def record_attempt(
        self,
        *,
        delivery_id: str,
        leased_until: datetime,
        attempt: str,
        status: str,
        next_attempt_at: datetime | None,
        finished_at: datetime | None,
    ) -> uuid.UUID | None:
        """Append the attempt and set the outcome, if this lease still holds the delivery; the
        endpoint's id, or None when it does not (deleted, or taken over after the lease ran out)."""
        row = (
            await self._session.execute(
                _RECORD,
                {
                    "id": delivery_id,
                    "leased_until": leased_until,
                    "attempt": attempt,
                    "status": status,
                    "next_attempt_at": next_attempt_at,
                    "finished_at": finished_at,
                },
            )
        ).one_or_none()
        return None if row is None else row.endpoint_id

    async def endpoint_succeeded(self, endpoint_id: uuid.UUID) -> None:
        await self._session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )

    async def endpoint_failed(
        self, *, endpoint_id: uuid.UUID, disable_after: int, at: datetime
    ) -> bool:
        """Count a failed delivery; True when that disables the endpoint."""
        row = (
            await self._session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id)
                .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1)
                .returning(WebhookEndpoint.consecutive_failures, WebhookEndpoint.enabled)
            )
        ).one_or_none()
        if row is None or not row.enabled or row.consecutive_failures < disable_after:
            return False
        await self.disable(
            endpoint_id=endpoint_id,
            reason=f"{row.consecutive_failures} consecutive failed deliveries",
            at=at,
        )
        return True

    async def disable(self, *, endpoint_id: uuid.UUID, reason: str, at: datetime) -> bool:
        result = await self._session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled)
            .values(enabled=False, disabled_reason=reason, updated_at=at)
        )
        return bool(getattr(result, "rowcount", 0))
