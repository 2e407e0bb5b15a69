"""The outbox relay's settings (OUTBOX_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings import settings_group


class OutboxSettings(BaseSettings):
    """The relay that moves committed outbox rows to RabbitMQ (runs inside the API process)."""

    model_config = settings_group("OUTBOX_")

    relay_enabled: bool = True
    # Safety net behind the commit-time NOTIFY: pending rows are looked for at least this often.
    sweep_interval_seconds: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=200, ge=1, le=10_000)
    # Longest wait for the broker's confirm of one publish; past it the batch is retried later.
    publish_timeout_seconds: float = Field(default=5.0, gt=0)


class ReconcileSettings(BaseSettings):
    """The reconciler in the relay: events published but never processed are published again."""

    model_config = settings_group("")

    # A new_order published this long ago and still not processed (its task lost with a Redis
    # primary, say) is published again; the worker's processed-event record keeps it processed once.
    processing_deadline_seconds: float = Field(default=300, gt=0)
