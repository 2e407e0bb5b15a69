from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, utcnow


class OutboxEvent(Base):
    """An event written in the same transaction as the change it announces.

    The relay publishes it after the commit and only then sets `published_at`; a row with
    `published_at` NULL is an event the broker has not confirmed yet.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        # Only the pending rows, oldest first: what the relay's sweep reads; stays tiny.
        Index(
            "ix_outbox_events_pending",
            "created_at",
            postgresql_where=text("published_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The W3C traceparent of the request that wrote the event (when traced): the relay publishes the
    # event under it, so the consumer's and the worker's spans join the request's trace.
    traceparent: Mapped[str | None] = mapped_column(String(55))


class ProcessedEvent(Base):
    """An event whose work is done: written in the transaction that finishes the work, so a
    redelivered event (or a re-run task) finds it and does nothing."""

    __tablename__ = "processed_events"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    # When the task that did the work started, and when it finished (latency and audit).
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
