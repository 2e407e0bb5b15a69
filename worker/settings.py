"""The worker process's settings: the shared groups and its own (WORKER_*)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings import Settings, settings_group


class WorkerSettings(BaseSettings):
    model_config = settings_group("WORKER_")

    # Tasks run at once by one worker process (threads; each task sleeps 2 s, so this is throughput).
    concurrency: int = Field(default=100, ge=1, le=1000)
    # PostgreSQL connections of one worker: a task holds one only for its short bookkeeping transaction.
    db_pool_size: int = Field(default=5, ge=1)
    # On SIGTERM: how long running tasks may take to finish; the unfinished are redelivered later.
    shutdown_grace_seconds: float = Field(default=8.0, gt=0)
    # Port of this process's Prometheus /metrics (0 serves none).
    metrics_port: int = Field(default=0, ge=0, le=65535)


class WorkerProcessSettings(Settings):
    """Everything `python -m worker` reads."""

    worker: WorkerSettings = Field(default_factory=WorkerSettings)


@lru_cache
def get_worker_settings() -> WorkerProcessSettings:
    return WorkerProcessSettings()
