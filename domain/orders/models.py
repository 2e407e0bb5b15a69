from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.orders.status import OrderEventKind, OrderStatus
from domain.users.models import ROLE_TYPE
from domain.users.roles import Role
from infra.db import Base, utcnow


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # Serves "orders of a user, newest first" and its keyset pagination on (created_at, id).
        Index("ix_orders_user_id_created_at_id", "user_id", "created_at", "id"),
        # The order search's shapes (domain/orders/search_repository.py, docs/staff.md): every
        # order newest first or in a time range; one status (with a time range); a total range
        # sorted by total. The count of statuses alone reads `order_status_counts` instead.
        Index("ix_orders_created_at_id", "created_at", "id"),
        Index("ix_orders_status_created_at_id", "status", "created_at", "id"),
        Index("ix_orders_total_price_id", "total_price", "id"),
        CheckConstraint("total_price >= 0", name="total_price_non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # A list of {"product_id", "name", "quantity", "price"}; price as a two-decimal string.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    total_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, name="order_status"), default=OrderStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Bumped on every change; the cache never replaces a newer version with an older one.
    version: Mapped[int] = mapped_column(Integer, default=1)


class OrderStatusCount(Base):
    """How many orders have a status: the sum of its shards' counts. Written only by the triggers
    on `orders` (migration 2026_12_07_order_status_counts), in the transaction of each write, so it
    is exact in any snapshot; a shard alone means nothing and may be below zero."""

    __tablename__ = "order_status_counts"

    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, name="order_status"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


# The largest `seq` the column (a PostgreSQL integer) holds: a client's resume point beyond it is
# refused as bad input rather than sent to the database.
MAX_EVENT_SEQ = 2**31 - 1

NOTE_MAX_LENGTH = 500


class OrderEvent(Base):
    """One change of an order, written in the transaction of the change itself: the order's history.

    `seq` counts 1, 2, 3 … per order; it is taken under the order's row lock, so it has no gaps and
    no duplicates, and it is what live clients resume from (`afterSeq`, `Last-Event-ID`).
    """

    __tablename__ = "order_events"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq_positive"),)

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[OrderEventKind] = mapped_column(Enum(OrderEventKind, name="order_event_kind"))
    # The status after the change, and before it (null for CREATED).
    status: Mapped[OrderStatus] = mapped_column(Enum(OrderStatus, name="order_status"))
    previous_status: Mapped[OrderStatus | None] = mapped_column(
        Enum(OrderStatus, name="order_status")
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    # Who made the change: null for the system (PROCESSED) and for events older than roles. The
    # role is the actor's when acting. No foreign key on purpose: the record of who did what
    # outlives the account (and deleting a user needs no scan of every history).
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[Role | None] = mapped_column(ROLE_TYPE)
    # The note a status change may carry (1–500 characters, trimmed).
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX_LENGTH))


class IdempotencyKey(Base):
    """An `Idempotency-Key` a user sent with a new order: the order its first request created, and
    a fingerprint of that request, so a retry replays the order instead of creating another.

    Keys are the user's own (another user's identical key is unrelated) and live 24 hours.
    """

    __tablename__ = "order_idempotency_keys"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 (hex) of the request as validated: the same order asked for again, or not.
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
