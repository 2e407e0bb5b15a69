"""Settings for every process, read from the environment (and `.env` when present).

One root (`Settings`) with a nested group per concern. Each group reads its own variables, so the
environment names stay the short, documented ones (`DATABASE_URL`, `REDIS_URL`, ...). Every variable is
listed with a one-line comment in `.env.example`; the defaults point at the local services, so a
native run needs no `.env` at all.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra.production import unsafe_for_production


def settings_group(prefix: str) -> SettingsConfigDict:
    # ORDERS_ENV_FILE names the file read after the environment (empty: none). The test suite empties
    # it, so that what a developer's `.env` turns on or off never changes what the tests see.
    env_file = os.environ.get("ORDERS_ENV_FILE", ".env") or None
    return SettingsConfigDict(env_prefix=prefix, env_file=env_file, extra="ignore")


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
    model_config = settings_group("")

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
    # In production, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (unset: nobody).
    metrics_token: SecretStr | None = None

    _split_lists = field_validator("cors_origins", "trusted_proxies", mode="before")(_split_commas)


class DatabaseSettings(BaseSettings):
    model_config = settings_group("DATABASE_")

    url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/orders"
    pool_size: int = Field(default=20, ge=1)
    # Extra connections are opened and closed under bursts; that churn costs more than a short wait.
    max_overflow: int = Field(default=0, ge=0)
    # How long a request waits for a connection, and for a statement, before the database counts as down.
    timeout_seconds: float = Field(default=2.0, gt=0)


class RedisSettings(BaseSettings):
    model_config = settings_group("REDIS_")

    url: str = "redis://127.0.0.1:6379/0"
    # Every key this service writes starts with it, so several deployments can share one Redis.
    key_prefix: str = "orders:"
    # A request never waits longer than this on Redis; past it the cache is skipped.
    socket_timeout_seconds: float = Field(default=0.1, gt=0)
    # Sentinels (host:port, comma-separated) that name the primary of `sentinel_master`; when set,
    # every process finds the primary through them and `url` gives only the password and database.
    sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    sentinel_master: str = "orders"
    # The Sentinels' own password (their requirepass); empty when they have none.
    sentinel_password: SecretStr = SecretStr("")

    _split_sentinels = field_validator("sentinels", mode="before")(_split_commas)

    @field_validator("sentinels")
    @classmethod
    def _host_and_port(cls, sentinels: list[str]) -> list[str]:
        for sentinel in sentinels:
            host, _, port = sentinel.rpartition(":")
            if not host or not port.isdigit():
                msg = f"REDIS_SENTINELS: {sentinel!r} is not host:port"
                raise ValueError(msg)
        return sentinels

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [
            (host.strip("[]"), int(port))
            for host, _, port in (sentinel.rpartition(":") for sentinel in self.sentinels)
        ]


class RabbitMQSettings(BaseSettings):
    model_config = settings_group("RABBITMQ_")

    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # The nodes of a cluster, comma-separated AMQP URLs: a connection that fails moves to the next one.
    # When set, it replaces `url`.
    urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Pause between reconnection attempts while RabbitMQ is unreachable.
    reconnect_interval_seconds: float = Field(default=1.0, gt=0)
    # Deliveries of one message before the quorum queue dead-letters it. A queue argument: publisher
    # and consumer must agree, and changing it on an existing queue needs the queue re-created.
    delivery_limit: int = Field(default=10, ge=1)

    _split_urls = field_validator("urls", mode="before")(_split_commas)

    def node_urls(self) -> list[str]:
        """Every node to try, in order: RABBITMQ_URLS, else RABBITMQ_URL alone."""
        return self.urls or [self.url]


class TaskQueueSettings(BaseSettings):
    """taskiq on Redis streams (REDIS_URL): the consumer enqueues, the worker executes."""

    model_config = settings_group("TASKIQ_")

    # The Redis stream; every deployment (and every test run) sharing a Redis needs its own.
    stream: str = "orders:taskiq"
    consumer_group: str = "orders-workers"
    # A task held this long by a worker that stopped refreshing it (crashed) is taken over by another.
    reclaim_idle_seconds: float = Field(default=10.0, gt=0)
    # Deliveries of one task before it is moved aside to the "<stream>:dead" stream.
    max_deliveries: int = Field(default=10, ge=1)


class RetentionSettings(BaseSettings):
    """How long bookkeeping rows are kept (domain/retention.py); orders and their history stay."""

    model_config = settings_group("")

    # Published outbox rows (kept for audits and replays).
    outbox_retention_hours: float = Field(default=168, gt=0)
    # Processed-event records; never before their outbox row is gone.
    processed_events_retention_days: float = Field(default=30, gt=0)
    # Idempotency keys; they answer retries for 24 hours, so never less.
    idempotency_keys_retention_hours: float = Field(default=24, ge=24)
    # Webhook fan-out cursors of orders with nothing pending and no event for this long.
    webhook_order_cursors_retention_days: float = Field(default=30, gt=0)
    # How often the worker purges (each worker tries; one at a time does the work).
    retention_interval_minutes: float = Field(default=60, gt=0)


class AuthSettings(BaseSettings):
    model_config = settings_group("")

    jwt_private_key_path: Path = Path(".secret_key/jwt-private.pem")
    jwt_public_key_path: Path = Path(".secret_key/jwt-public.pem")
    jwt_issuer: str = "orders"
    jwt_audience: str = "orders-api"
    access_token_expire_minutes: int = Field(default=30, ge=1)
    # A login also answers a device token, valid this long: sent back with the next login, it lets
    # that client past RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL, so others' failures cannot lock it out.
    device_token_expire_days: int = Field(default=90, ge=1)
    # Failed logins with one device token after which it is revoked (that client meets the limits
    # of clients without one again).
    device_token_max_failures: int = Field(default=5, ge=1)
    # Password checks (login, registration) that may wait for the hashing thread; past it the
    # request is refused at once with 503 and Retry-After instead of queueing.
    password_hashing_max_waiting: int = Field(default=32, ge=0)


class RateLimitSettings(BaseSettings):
    model_config = settings_group("RATE_LIMIT_")

    enabled: bool = True
    # Per authenticated user, else per client IP; `limits` syntax, ";" separates several windows.
    default: str = "100/minute"
    # Per client IP, on /token and /register/.
    auth: str = "10/minute"
    # Login attempts per account (the lower-cased email) and client IP, on /token and the `token`
    # mutation: every attempt counts, whether or not an account has that email, so the answer never
    # tells which emails exist; one address guessing cannot lock the owner out of other addresses.
    login_per_account: str = "5/minute"
    # Login attempts per account from every address together, the ceiling a distributed guesser
    # meets. Attempts refused per address do not count here. Trade-off: whoever spends it all (at
    # least 20 addresses for a minute, or one for 20 minutes) locks the account until the window ends.
    login_per_account_global: str = "100/hour"


class CacheSettings(BaseSettings):
    model_config = settings_group("ORDER_CACHE_")

    enabled: bool = True
    ttl_seconds: int = Field(default=300, ge=1)


def _seconds_list(value: object) -> object:
    """ "5s,5m,30m,2h" (or plain seconds) as a list of seconds."""
    if not isinstance(value, str):
        return value
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    steps: list[float] = []
    for part in (part.strip() for part in value.split(",")):
        if not part:
            continue
        unit = part[-1].lower()
        steps.append(float(part[:-1]) * units[unit] if unit in units else float(part))
    return steps


class WebhookSettings(BaseSettings):
    """Webhook endpoints (the API) and their deliveries (the `webhooks` process)."""

    model_config = settings_group("WEBHOOK_")

    # After a rotation, deliveries are signed with the old secret too for this long.
    secret_overlap_seconds: float = Field(default=86400, ge=0)
    # One attempt (connect, send, answer) may take this long; past it, it is retried.
    timeout_seconds: float = Field(default=10.0, gt=0)
    # The waits before each retry, in order; after the last one fails the delivery is `failed`.
    retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    )
    # Consecutive failed deliveries after which an endpoint is disabled.
    disable_after_failures: int = Field(default=20, ge=1)
    # http:// URLs in production (https:// is required otherwise).
    allow_http: bool = False
    # Loopback, private, link-local... targets: development and tests only (refused in production).
    allow_private_targets: bool = False
    # Succeeded deliveries are deleted after this many days.
    log_retention_days: float = Field(default=30, gt=0)

    _split_schedule = field_validator("retry_schedule", mode="before")(_seconds_list)

    @field_validator("retry_schedule")
    @classmethod
    def _non_negative_steps(cls, steps: list[float]) -> list[float]:
        if any(step < 0 for step in steps):
            msg = "WEBHOOK_RETRY_SCHEDULE steps must be >= 0"
            raise ValueError(msg)
        return steps


class Settings(BaseModel):
    """The groups every process shares, one attribute each. A process's own groups live next to it, in a
    subclass (`api.settings`, `consumer.settings`, `worker.settings`); tests pass groups explicitly."""

    app: AppSettings = Field(default_factory=AppSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    rabbitmq: RabbitMQSettings = Field(default_factory=RabbitMQSettings)
    taskiq: TaskQueueSettings = Field(default_factory=TaskQueueSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    @model_validator(mode="after")
    def _safe_for_production(self) -> Self:
        """In production, refuse to start on settings that are only fit for a laptop."""
        if self.app.environment is Environment.PRODUCTION:
            problems = unsafe_for_production(self)
            if problems:
                msg = "refusing to start with ENVIRONMENT=production: " + "; ".join(problems)
                raise ValueError(msg)
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
