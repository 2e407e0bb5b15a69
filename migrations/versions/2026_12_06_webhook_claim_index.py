"""webhook claim index: pending deliveries by endpoint and due time (replaces the one by due time)

The dispatcher leases, for each enabled endpoint, its first due deliveries (a few per endpoint):
one short range of this index per endpoint, where the index by due time alone made every lease sort
and rank the whole backlog. Built CONCURRENTLY (outside a transaction), as the search indexes are.

Revision ID: 20261206_webhook_claim
Revises: 20261206_order_search
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261206_webhook_claim"
down_revision: str | None = "20261206_order_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_webhook_deliveries_endpoint_id_due",
            "webhook_deliveries",
            ["endpoint_id", "next_attempt_at"],
            postgresql_where=_PENDING,
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        op.drop_index(
            "ix_webhook_deliveries_due",
            table_name="webhook_deliveries",
            postgresql_concurrently=True,
            if_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_webhook_deliveries_due",
            "webhook_deliveries",
            ["next_attempt_at"],
            postgresql_where=_PENDING,
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        op.drop_index(
            "ix_webhook_deliveries_endpoint_id_due",
            table_name="webhook_deliveries",
            postgresql_concurrently=True,
            if_exists=True,
        )
