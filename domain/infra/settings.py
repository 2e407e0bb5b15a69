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
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
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


class AppSettings(BaseSettings):
    model_config = _group("")

    environment: Environment = Environment.DEVELOPMENT
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"]
    )
    log_level: str = "INFO"

    _split_origins = field_validator("cors_origins", mode="before")(_split_commas)


class DatabaseSettings(BaseSettings):
    model_config = _group("DATABASE_")

    url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/orders"
    pool_size: int = Field(default=10, ge=1)
    max_overflow: int = Field(default=10, ge=0)
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


class AuthSettings(BaseSettings):
    model_config = _group("")

    jwt_private_key_path: Path = Path(".secret_key/jwt-private.pem")
    jwt_public_key_path: Path = Path(".secret_key/jwt-public.pem")
    jwt_issuer: str = "orders"
    jwt_audience: str = "orders-api"
    access_token_expire_minutes: int = Field(default=30, ge=1)


class CacheSettings(BaseSettings):
    model_config = _group("ORDER_CACHE_")

    enabled: bool = True
    ttl_seconds: int = Field(default=300, ge=1)


class Settings(BaseModel):
    """The root: one attribute per group. Build it with `get_settings()`; tests pass groups explicitly."""

    app: AppSettings = Field(default_factory=AppSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    rabbitmq: RabbitMQSettings = Field(default_factory=RabbitMQSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)


@lru_cache
def get_settings() -> Settings:
    return Settings()
