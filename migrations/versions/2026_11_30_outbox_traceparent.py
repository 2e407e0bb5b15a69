"""outbox traceparent: the W3C trace context each outbox event is published under

Revision ID: 20261130_outbox_traceparent
Revises: 20261126_idempotency
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261130_outbox_traceparent"
down_revision: str | None = "20261126_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, and events written untraced have none.
    op.add_column("outbox_events", sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox_events", "traceparent")
