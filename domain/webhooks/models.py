from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base


class WebhookEndpoint(Base):
    """A URL that receives the order events it subscribed to, signed with its secret.

    After a rotation the previous secret keeps signing too until `previous_secret_until`, so a
    receiver can switch secrets without dropping a delivery.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    description: Mapped[str | None] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # Why the service disabled it (410 Gone, too many failures); null when a person did, or enabled.
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Deliveries that ended `failed` in a row; a success resets it.
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One order event for one endpoint: its webhook-id (`id`), its body, its attempts.

    (endpoint, order, seq) is unique: an event fanned out twice (a redelivered message) is one
    delivery. `leased_until` marks an attempt in flight; a dispatcher that dies mid-send leaves the
    lease to expire, and the delivery is attempted again (same id) with nothing logged for the lost try.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "order_id", "seq"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
        # An endpoint's deliveries, newest first (the delivery log and its keyset pages).
        Index("ix_webhook_deliveries_endpoint_id_created_at_id", "endpoint_id", "created_at", "id"),
        # What the dispatcher leases: each endpoint's pending deliveries by due time; stays small.
        Index(
            "ix_webhook_deliveries_endpoint_id_due",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # What retention deletes.
        Index(
            "ix_webhook_deliveries_succeeded",
            "finished_at",
            postgresql_where=text("status = 'succeeded'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID]
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(32))
    # The body's object as JSON (type, timestamp, data); the same on every attempt.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    # [{"at", "response_status", "duration_ms", "error", "response_body"}], oldest first.
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # Attempts in the current run of the retry schedule (a manual retry starts a last one).
    tries: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    traceparent: Mapped[str | None] = mapped_column(String(55))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookOrderCursor(Base):
    """How far an order's history has been fanned out to deliveries: events arrive from RabbitMQ
    in any order and more than once, and fanning out always continues from here, in `seq` order."""

    __tablename__ = "webhook_order_cursors"

    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
