"""order status index: (status) alone, for the exact count of one status (`count=true`)

An index-only scan of it reads a few megabytes where the (status, created_at, id) index of the search's
pages holds every key in full: B-tree deduplication stores each status once per page with a list of
row ids. Built CONCURRENTLY, as the other search indexes.

Revision ID: 20261206_order_status
Revises: 20261206_webhook_claim
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261206_order_status"
down_revision: str | None = "20261206_webhook_claim"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_orders_status",
            "orders",
            ["status"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_orders_status", table_name="orders", postgresql_concurrently=True, if_exists=True
        )
