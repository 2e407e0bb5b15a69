"""All SQL of the outbox (async, API side) and of processed events (sync, worker side)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    FromClause,
    Insert,
    Table,
    bindparam,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from domain.events.models import OutboxEvent, ProcessedEvent


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An event on its way into the outbox."""

    id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    # The W3C trace context the relay publishes it under (None when tracing is off).
    traceparent: str | None = None


_OUTBOX = cast(Table, OutboxEvent.__table__)
_ROW_FIELDS = ("id", "event_type", "payload", "created_at", "traceparent")


def outbox_insert(prefix: str, *, for_each: FromClause | None = None) -> Insert:
    """The INSERT of one outbox row, its values bound by name (`prefix` + column), to be built once
    and run many times (`outbox_values`): building a statement costs more than running it. A plain
    INSERT: the ORM's flush machinery costs more than the statement itself here.

    With `for_each` (a CTE of the same statement), the row is inserted once per row of it: not at
    all when it is empty (an event written only if the change it announces was)."""
    values = {name: bindparam(prefix + name, type_=_OUTBOX.c[name].type) for name in _ROW_FIELDS}
    if for_each is None:
        return insert(_OUTBOX).values(values)
    return insert(_OUTBOX).from_select(list(values), select(*values.values()).select_from(for_each))


def outbox_values(row: OutboxRow, prefix: str) -> dict[str, Any]:
    return {prefix + name: getattr(row, name) for name in _ROW_FIELDS}


class OutboxRepository:
    _INSERT = outbox_insert("")

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: OutboxRow) -> None:
        await self._session.execute(self._INSERT, outbox_values(row, ""))

    async def claim_pending(self, *, limit: int) -> Sequence[OutboxEvent]:
        """The oldest unpublished rows, locked until the transaction ends.

        SKIP LOCKED: rows another relay (another API process) is publishing are passed over, so
        several relays share the backlog instead of queueing behind each other's locks.
        """
        stmt = (
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self._session.execute(stmt)).scalars().all()

    async def count_pending(self) -> int:
        """Events committed and not yet confirmed by the broker (served by the partial index)."""
        stmt = (
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
        return int((await self._session.execute(stmt)).scalar_one())

    async def mark_published(self, *, event_ids: Sequence[uuid.UUID], at: datetime) -> None:
        if event_ids:
            await self._session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(event_ids)).values(published_at=at)
            )

    async def republish_unprocessed(self, *, event_type: str, published_before: datetime) -> int:
        """Mark pending again the events of `event_type` published before `published_before` and
        still not processed (no `processed_events` row): the relay publishes them once more."""
        unprocessed = ~exists().where(ProcessedEvent.event_id == OutboxEvent.id)
        result = await self._session.execute(
            update(OutboxEvent)
            .where(
                OutboxEvent.event_type == event_type,
                OutboxEvent.published_at < published_before,
                unprocessed,
            )
            .values(published_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class ProcessedEventRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def exists(self, event_id: uuid.UUID) -> bool:
        stmt = select(ProcessedEvent.event_id).where(ProcessedEvent.event_id == event_id)
        return self._session.execute(stmt).first() is not None

    def recorded_by(self, event_id: uuid.UUID, *, started_at: datetime) -> bool:
        """Whether the event is recorded by the run that started at `started_at`."""
        stmt = select(ProcessedEvent.event_id).where(
            ProcessedEvent.event_id == event_id, ProcessedEvent.started_at == started_at
        )
        return self._session.execute(stmt).first() is not None

    def record(
        self, *, event_id: uuid.UUID, event_type: str, started_at: datetime, processed_at: datetime
    ) -> bool:
        """Record the event as processed; False if it already was.

        The insert takes the key's lock: a concurrent run of the same event waits here until this
        transaction ends, then finds the row (and gives up) or, after a rollback, records it itself.
        """
        stmt = (
            insert(ProcessedEvent)
            .values(
                event_id=event_id,
                event_type=event_type,
                started_at=started_at,
                processed_at=processed_at,
            )
            .on_conflict_do_nothing(index_elements=[ProcessedEvent.event_id])
            .returning(ProcessedEvent.event_id)
        )
        return self._session.execute(stmt).first() is not None
