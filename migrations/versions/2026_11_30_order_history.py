"""order history: order_events, one row per change of an order (CREATED, STATUS_CHANGED, PROCESSED)

Orders older than the table get the history that can still be told: CREATED (PENDING) at their
creation and, unless still PENDING, one STATUS_CHANGED to their status at their last update (steps in
between were never recorded). So every order has a history, starting at seq 1.

Revision ID: 20261130_order_history
Revises: 20261130_outbox_traceparent
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261130_order_history"
down_revision: str | None = "20261130_outbox_traceparent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

order_status = postgresql.ENUM(
    "PENDING", "PAID", "SHIPPED", "CANCELED", name="order_status", create_type=False
)
order_event_kind = postgresql.ENUM(
    "CREATED", "STATUS_CHANGED", "PROCESSED", name="order_event_kind", create_type=False
)

BACKFILL_CREATED = """
INSERT INTO order_events (order_id, seq, kind, status, previous_status, at)
SELECT id, 1, 'CREATED', 'PENDING', NULL, created_at FROM orders
"""
BACKFILL_STATUS = """
INSERT INTO order_events (order_id, seq, kind, status, previous_status, at)
SELECT id, 2, 'STATUS_CHANGED', status, 'PENDING', updated_at FROM orders WHERE status <> 'PENDING'
"""


def upgrade() -> None:
    order_event_kind.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "order_events",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", order_event_kind, nullable=False),
        sa.Column("status", order_status, nullable=False),
        sa.Column("previous_status", order_status, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_order_events_seq_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "seq", name=op.f("pk_order_events")),
    )
    op.execute(BACKFILL_CREATED)
    op.execute(BACKFILL_STATUS)


def downgrade() -> None:
    op.drop_table("order_events")
    order_event_kind.drop(op.get_bind(), checkfirst=False)
