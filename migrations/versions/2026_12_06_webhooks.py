"""webhooks: endpoints, deliveries (with their attempt log), and every order event into the outbox

Revision ID: 20261206_webhooks
Revises: 20261206_staff_roles
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261206_webhooks"
down_revision: str | None = "20261206_staff_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every row of an order's history becomes an outbox event in the transaction that writes it, whoever
# writes it (the API's create and status change, the worker's PROCESSED): the relay publishes it to
# the `orders` exchange as `order.created`, `order.status_changed` or `order.processed`, and the
# webhook dispatcher fans it out. The trace context comes from the transaction's
# `orders.traceparent` setting when the writer set one (infra/tracing.py).
ORDER_EVENTS_TO_OUTBOX = """
CREATE FUNCTION order_events_to_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_events (id, event_type, payload, created_at, traceparent)
    VALUES (
        gen_random_uuid(),
        'order.' || lower(NEW.kind::text),
        jsonb_build_object(
            'order_id', NEW.order_id, 'seq', NEW.seq, 'correlation_id', NEW.correlation_id
        ),
        NEW.at,
        NULLIF(current_setting('orders.traceparent', true), '')
    );
    RETURN NULL;
END;
$$
"""
ORDER_EVENTS_TRIGGER = """
CREATE TRIGGER order_events_to_outbox AFTER INSERT ON order_events
FOR EACH ROW EXECUTE FUNCTION order_events_to_outbox()
"""


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("traceparent", sa.String(length=55), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')",
            name=op.f("ck_webhook_deliveries_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "endpoint_id",
            "order_id",
            "seq",
            name=op.f("uq_webhook_deliveries_endpoint_id_order_id_seq"),
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_id_created_at_id",
        "webhook_deliveries",
        ["endpoint_id", "created_at", "id"],
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_succeeded",
        "webhook_deliveries",
        ["finished_at"],
        postgresql_where=sa.text("status = 'succeeded'"),
    )
    op.create_table(
        "webhook_order_cursors",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_webhook_order_cursors")),
    )
    op.execute(ORDER_EVENTS_TO_OUTBOX)
    op.execute(ORDER_EVENTS_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER order_events_to_outbox ON order_events")
    op.execute("DROP FUNCTION order_events_to_outbox()")
    op.drop_table("webhook_order_cursors")
    op.drop_index("ix_webhook_deliveries_succeeded", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_index(
        "ix_webhook_deliveries_endpoint_id_created_at_id", table_name="webhook_deliveries"
    )
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
