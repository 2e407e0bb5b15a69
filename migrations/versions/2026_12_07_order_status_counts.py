"""order status counts: how many orders each status has, kept by triggers on orders

The staff search's exact count of statuses (`count=true`, `totalCount`, with no other filter) reads
a few rows here instead of counting the orders. Statement-level triggers with transition tables
change the counts in the transaction of every INSERT, UPDATE and DELETE on orders (a user's orders
deleted by ON DELETE CASCADE too): a snapshot that sees an order sees it counted, and a batch of a
million orders costs one grouped upsert. A TRUNCATE of orders empties the counts with it.

Counts are split in shards (the writing backend's pid modulo 16), so concurrent writers usually add
to different rows and one order's transaction does not wait for another's to commit. A shard's count
may go below zero (an order counted by one backend, deleted or moved by another's); only the sum
over the shards is a status's count.

Revision ID: 20261207_order_status_counts
Revises: 20261206_order_status
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261207_order_status_counts"
down_revision: str | None = "20261206_order_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

order_status = postgresql.ENUM(
    "PENDING", "PAID", "SHIPPED", "CANCELED", name="order_status", create_type=False
)

# One function for the three kinds of write; each trigger names its transition tables `new_rows`
# and `old_rows`, and each branch reads only the tables its trigger has. Rows are upserted in status
# order, so two statements that touch the same shard lock its rows in the same order (no deadlock);
# an UPDATE that leaves every status as it was writes nothing.
APPLY = """
CREATE FUNCTION order_status_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO order_status_counts AS counts (status, shard, count)
        SELECT status, pg_backend_pid() % 16, count(*) FROM new_rows
        GROUP BY status ORDER BY status
        ON CONFLICT (status, shard) DO UPDATE SET count = counts.count + excluded.count;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO order_status_counts AS counts (status, shard, count)
        SELECT status, pg_backend_pid() % 16, -count(*) FROM old_rows
        GROUP BY status ORDER BY status
        ON CONFLICT (status, shard) DO UPDATE SET count = counts.count + excluded.count;
    ELSE
        INSERT INTO order_status_counts AS counts (status, shard, count)
        SELECT status, pg_backend_pid() % 16, sum(delta)
        FROM (
            SELECT status, 1 AS delta FROM new_rows
            UNION ALL
            SELECT status, -1 AS delta FROM old_rows
        ) AS changes
        GROUP BY status HAVING sum(delta) <> 0 ORDER BY status
        ON CONFLICT (status, shard) DO UPDATE SET count = counts.count + excluded.count;
    END IF;
    RETURN NULL;
END
$$
"""

EMPTY = """
CREATE FUNCTION order_status_counts_empty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM order_status_counts;
    RETURN NULL;
END
$$
"""

TRIGGERS = {
    "order_status_counts_insert": "AFTER INSERT ON orders REFERENCING NEW TABLE AS new_rows",
    "order_status_counts_update": (
        "AFTER UPDATE ON orders REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "order_status_counts_delete": "AFTER DELETE ON orders REFERENCING OLD TABLE AS old_rows",
}

# Every order as it is once writers are shut out: in shard 0.
POPULATE = """
INSERT INTO order_status_counts (status, shard, count)
SELECT status, 0, count(*) FROM orders GROUP BY status
"""


def upgrade() -> None:
    op.create_table(
        "order_status_counts",
        sa.Column("status", order_status, nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("status", "shard", name=op.f("pk_order_status_counts")),
    )
    # Writers are shut out (reads go on) from before the triggers exist until this transaction
    # commits: an order written before the lock is committed and counted by POPULATE, one written
    # after it waits and then fires the triggers. No write is counted twice or missed; writes wait
    # for one count of the existing orders (an index-only scan of ix_orders_status).
    op.execute("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE")
    op.execute(APPLY)
    op.execute(EMPTY)
    for name, event in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {event} FOR EACH STATEMENT "
            "EXECUTE FUNCTION order_status_counts_apply()"
        )
    op.execute(
        "CREATE TRIGGER order_status_counts_truncate AFTER TRUNCATE ON orders "
        "FOR EACH STATEMENT EXECUTE FUNCTION order_status_counts_empty()"
    )
    op.execute(POPULATE)


def downgrade() -> None:
    for name in [*TRIGGERS, "order_status_counts_truncate"]:
        op.execute(f"DROP TRIGGER {name} ON orders")
    op.execute("DROP FUNCTION order_status_counts_empty()")
    op.execute("DROP FUNCTION order_status_counts_apply()")
    op.drop_table("order_status_counts")
