"""The consumer process's settings: the shared groups and its own (CONSUMER_*)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings import Settings, settings_group


class ConsumerSettings(BaseSettings):
    model_config = settings_group("CONSUMER_")

    # Unacknowledged messages one consumer holds at once (RabbitMQ prefetch).
    prefetch_count: int = Field(default=100, ge=1, le=65_535)
    # Longest wait for one enqueue on Redis; a failed enqueue is retried with backoff up to the cap.
    enqueue_timeout_seconds: float = Field(default=5.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=5.0, gt=0)
    # On SIGTERM: how long messages in hand may take to finish before the rest go back to the queue.
    shutdown_grace_seconds: float = Field(default=5.0, gt=0)
    # Port of this process's Prometheus /metrics (0 serves none).
    metrics_port: int = Field(default=0, ge=0, le=65535)


class ConsumerProcessSettings(Settings):
    """Everything `python -m consumer` reads."""

    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)


@lru_cache
def get_consumer_settings() -> ConsumerProcessSettings:
    return ConsumerProcessSettings()
