"""drop the order status index: order_status_counts answers the count it served

`ix_orders_status` existed for the exact count of one status; that count now reads
`order_status_counts` (previous revision, whose first count of the orders was its last use). No
search reads it any more, and every new order and status change wrote an entry to it. Dropped
CONCURRENTLY, as it was built: a plain DROP INDEX would hold every read and write of orders behind
its lock.

Revision ID: 20261207_drop_order_status
Revises: 20261207_order_status_counts
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261207_drop_order_status"
down_revision: str | None = "20261207_order_status_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_orders_status", table_name="orders", postgresql_concurrently=True, if_exists=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_orders_status",
            "orders",
            ["status"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )
