"""The webhooks process's settings: the shared groups (WEBHOOK_* among them) and its own."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings import Settings, settings_group


class DispatcherSettings(BaseSettings):
    model_config = settings_group("WEBHOOK_DISPATCHER_")

    # Attempts in flight at once, to all endpoints, and to one endpoint: a slow or hanging endpoint
    # holds at most its own share, never the others'.
    max_in_flight: int = Field(default=256, ge=1, le=10_000)
    max_in_flight_per_endpoint: int = Field(default=16, ge=1, le=1000)
    # Unacknowledged order events held at once (RabbitMQ prefetch).
    prefetch_count: int = Field(default=100, ge=1, le=65_535)
    # Due retries, and deliveries made by other replicas, are looked for at least this often.
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    # On SIGTERM: how long attempts in flight may take to finish (the rest are retried by lease).
    shutdown_grace_seconds: float = Field(default=5.0, gt=0)
    # Port of this process's Prometheus /metrics (0 serves none).
    metrics_port: int = Field(default=0, ge=0, le=65535)


class DispatcherProcessSettings(Settings):
    """Everything `python -m dispatcher` reads."""

    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings)


@lru_cache
def get_dispatcher_settings() -> DispatcherProcessSettings:
    return DispatcherProcessSettings()
