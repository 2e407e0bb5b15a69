"""order search indexes: created_at, status + created_at, total_price (each with id, for keyset pages)

Built CONCURRENTLY (outside a transaction): on a large orders table a plain CREATE INDEX would block
every new order and status change until it finished.

Revision ID: 20261206_order_search
Revises: 20261206_webhooks
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261206_order_search"
down_revision: str | None = "20261206_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_orders_created_at_id": ["created_at", "id"],
    "ix_orders_status_created_at_id": ["status", "created_at", "id"],
    "ix_orders_total_price_id": ["total_price", "id"],
}


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, columns in _INDEXES.items():
            op.create_index(
                name, "orders", columns, postgresql_concurrently=True, if_not_exists=True
            )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in _INDEXES:
            op.drop_index(name, table_name="orders", postgresql_concurrently=True, if_exists=True)
