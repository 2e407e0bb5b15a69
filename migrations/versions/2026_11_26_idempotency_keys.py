"""idempotency keys: order_idempotency_keys (a user's Idempotency-Key → the order it created)

Revision ID: 20261126_idempotency
Revises: 20261126_outbox
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261126_idempotency"
down_revision: str | None = "20261126_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_order_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_idempotency_keys_order_id_orders"),
            ondelete="CASCADE",
        ),
        # (user_id, idempotency_key) first: lookups, and the race between two requests with one key,
        # are settled by this index; the user's expired keys are deleted through its prefix.
        sa.PrimaryKeyConstraint(
            "user_id", "idempotency_key", name=op.f("pk_order_idempotency_keys")
        ),
    )


def downgrade() -> None:
    op.drop_table("order_idempotency_keys")
