"""staff roles: every user's role, and who changed an order (actor, note) in its history

Revision ID: 20261206_staff_roles
Revises: 20261130_order_history
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261206_staff_roles"
down_revision: str | None = "20261130_order_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

user_role = postgresql.ENUM("customer", "staff", name="user_role", create_type=False)


def upgrade() -> None:
    user_role.create(op.get_bind(), checkfirst=False)
    # A constant default: PostgreSQL adds the column without rewriting the table, and every existing
    # account is a customer.
    op.add_column(
        "users",
        sa.Column("role", user_role, server_default="customer", nullable=False),
    )
    # Existing history rows get null actor and note: nothing else changes for them. The actor's id
    # has no foreign key: the record of who did what outlives the account.
    op.add_column("order_events", sa.Column("actor_user_id", sa.Integer(), nullable=True))
    op.add_column("order_events", sa.Column("actor_role", user_role, nullable=True))
    op.add_column("order_events", sa.Column("note", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column("order_events", "note")
    op.drop_column("order_events", "actor_role")
    op.drop_column("order_events", "actor_user_id")
    op.drop_column("users", "role")
    user_role.drop(op.get_bind(), checkfirst=False)
