"""Settings for every process, read from the environment (and `.env` when present).

One root (`Settings`) with a nested group per concern. Each group reads its own variables, so the
environment names stay the short, documented ones (`DATABASE_URL`, `REDIS_URL`, ...). Every variable is
listed with a one-line comment in `.env.example`; the defaults point at the local services, so a
native run needs no `.env` at all.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _group(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    AUTO = "auto"  # JSON lines unless stderr is a terminal
    JSON = "json"
    TEXT = "text"


class AppSettings(BaseSettings):
    model_config = _group("")

    environment: Environment = Environment.DEVELOPMENT
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"]
    )
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.AUTO
    # Request bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Proxies whose X-Forwarded-For is believed (comma-separated IPs); empty trusts none.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    _split_lists = field_validator("cors_origins", "trusted_proxies", mode="before")(_split_commas)


class DatabaseSettings(BaseSettings):
    model_config = _group("DATABASE_")

    url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/orders"
    pool_size: int = Field(default=20, ge=1)
    # Extra connections are opened and closed under bursts; that churn costs more than a short wait.
    max_overflow: int = Field(default=0, ge=0)
    # How long a request waits for a connection, and for a statement, before the database counts as down.
    timeout_seconds: float = Field(default=2.0, gt=0)


class RedisSettings(BaseSettings):
    model_config = _group("REDIS_")

    url: str = "redis://127.0.0.1:6379/0"
    # Every key this service writes starts with it, so several deployments can share one Redis.
    key_prefix: str = "orders:"
    # A request never waits longer than this on Redis; past it the cache is skipped.
    socket_timeout_seconds: float = Field(default=0.1, gt=0)


class RabbitMQSettings(BaseSettings):
    model_config = _group("RABBITMQ_")

    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Pause between reconnection attempts while RabbitMQ is unreachable.
    reconnect_interval_seconds: float = Field(default=1.0, gt=0)
    # Deliveries of one message before the quorum queue dead-letters it. A queue argument: publisher
    # and consumer must agree, and changing it on an existing queue needs the queue re-created.
    delivery_limit: int = Field(default=10, ge=1)


class OutboxSettings(BaseSettings):
    """The relay that moves committed outbox rows to RabbitMQ (runs inside the API process)."""

    model_config = _group("OUTBOX_")

    relay_enabled: bool = True
    # Safety net behind the commit-time NOTIFY: pending rows are looked for at least this often.
    sweep_interval_seconds: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=200, ge=1, le=10_000)
    # Longest wait for the broker's confirm of one publish; past it the batch is retried later.
    publish_timeout_seconds: float = Field(default=5.0, gt=0)
    # Published rows are deleted after this long (they are kept a while for audits and replays).
    retention_hours: float = Field(default=168, gt=0)


class TaskQueueSettings(BaseSettings):
    """taskiq on Redis streams (REDIS_URL): the consumer enqueues, the worker executes."""

    model_config = _group("TASKIQ_")

    # The Redis stream; every deployment (and every test run) sharing a Redis needs its own.
    stream: str = "orders:taskiq"
    consumer_group: str = "orders-workers"
    # A task held this long by a worker that stopped refreshing it (crashed) is taken over by another.
    reclaim_idle_seconds: float = Field(default=10.0, gt=0)
    # Deliveries of one task before it is moved aside to the "<stream>:dead" stream.
    max_deliveries: int = Field(default=10, ge=1)


class ConsumerSettings(BaseSettings):
    model_config = _group("CONSUMER_")

    # Unacknowledged messages one consumer holds at once (RabbitMQ prefetch).
    prefetch_count: int = Field(default=100, ge=1, le=65_535)
    # Longest wait for one enqueue on Redis; a failed enqueue is retried with backoff up to the cap.
    enqueue_timeout_seconds: float = Field(default=5.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=5.0, gt=0)
    # On SIGTERM: how long messages in hand may take to finish before the rest go back to the queue.
    shutdown_grace_seconds: float = Field(default=5.0, gt=0)
    # Port of this process's Prometheus /metrics (0 serves none).
    metrics_port: int = Field(default=0, ge=0, le=65535)


class WorkerSettings(BaseSettings):
    model_config = _group("WORKER_")

    # Tasks run at once by one worker process (threads; each task sleeps 2 s, so this is throughput).
    concurrency: int = Field(default=100, ge=1, le=1000)
    # PostgreSQL connections of one worker: a task holds one only for its short bookkeeping transaction.
    db_pool_size: int = Field(default=5, ge=1)
    # On SIGTERM: how long running tasks may take to finish; the unfinished are redelivered later.
    shutdown_grace_seconds: float = Field(default=8.0, gt=0)
    # Port of this process's Prometheus /metrics (0 serves none).
    metrics_port: int = Field(default=0, ge=0, le=65535)


class AuthSettings(BaseSettings):
    model_config = _group("")

    jwt_private_key_path: Path = Path(".secret_key/jwt-private.pem")
    jwt_public_key_path: Path = Path(".secret_key/jwt-public.pem")
    jwt_issuer: str = "orders"
    jwt_audience: str = "orders-api"
    access_token_expire_minutes: int = Field(default=30, ge=1)


class RateLimitSettings(BaseSettings):
    model_config = _group("RATE_LIMIT_")

    enabled: bool = True
    # Per authenticated user, else per client IP; `limits` syntax, ";" separates several windows.
    default: str = "100/minute"
    # Per client IP, on /token and /register/.
    auth: str = "10/minute"
    # Per account (the lower-cased email) on /token and the `token` mutation: every attempt counts,
    # whether or not an account has that email, so the answer never tells which emails exist.
    login_per_account: str = "5/minute"


class CacheSettings(BaseSettings):
    model_config = _group("ORDER_CACHE_")

    enabled: bool = True
    ttl_seconds: int = Field(default=300, ge=1)


class GraphQLSettings(BaseSettings):
    """The GraphQL endpoint (/graphql): its abuse limits and its developer tools."""

    model_config = _group("GRAPHQL_")

    # Schema introspection (the playground's docs and autocompletion); production may switch it off.
    introspection: bool = True
    # The GraphiQL playground on GET /graphql, served from the app's own pinned copies (no CDN).
    playground: bool = True
    # Deepest nesting of fields one operation may select (introspection fields are not counted).
    max_depth: int = Field(default=10, ge=1)
    # Aliased fields per operation: aliases let one request run a field many times.
    max_aliases: int = Field(default=15, ge=0)
    # Tokens per document; bounds the parser's work before anything else runs.
    max_tokens: int = Field(default=2000, ge=1)


class Settings(BaseModel):
    """The root: one attribute per group. Build it with `get_settings()`; tests pass groups explicitly."""

    app: AppSettings = Field(default_factory=AppSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    rabbitmq: RabbitMQSettings = Field(default_factory=RabbitMQSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    taskiq: TaskQueueSettings = Field(default_factory=TaskQueueSettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    graphql: GraphQLSettings = Field(default_factory=GraphQLSettings)

    @model_validator(mode="after")
    def _safe_for_production(self) -> Self:
        """In production, refuse to start on settings that are only fit for a laptop."""
        if self.app.environment is not Environment.PRODUCTION:
            return self
        problems = [
            f"{name} uses a default or empty password"
            for name, url in (
                ("DATABASE_URL", self.database.url),
                ("RABBITMQ_URL", self.rabbitmq.url),
            )
            if urlsplit(url).password in _WEAK_PASSWORDS
        ]
        if "*" in self.app.cors_origins:
            problems.append("CORS_ORIGINS must list origins, not *")
        problems += [
            f"{name} {path} does not exist"
            for name, path in (
                ("JWT_PRIVATE_KEY_PATH", self.auth.jwt_private_key_path),
                ("JWT_PUBLIC_KEY_PATH", self.auth.jwt_public_key_path),
            )
            if not path.is_file()
        ]
        if problems:
            msg = "refusing to start with ENVIRONMENT=production: " + "; ".join(problems)
            raise ValueError(msg)
        return self


_WEAK_PASSWORDS = {
    None,
    "",
    "guest",
    "postgres",
    "password",
    "change-me",
    "changeme",
    "secret",
    "orders",
}


@lru_cache
def get_settings() -> Settings:
    return Settings()
