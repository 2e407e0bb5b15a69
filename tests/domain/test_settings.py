"""Production settings refuse what is only fit for a laptop."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from api.settings import ApiProcessSettings
from consumer.settings import ConsumerProcessSettings
from infra.settings import (
    AppSettings,
    AuthSettings,
    DatabaseSettings,
    Environment,
    RabbitMQSettings,
    RedisSettings,
    Settings,
)
from worker.settings import WorkerProcessSettings


def _production(key_dir: Path, **groups: object) -> dict[str, object]:
    """Production settings fit to run, with `groups` replaced."""
    defaults: dict[str, object] = {
        "app": AppSettings(
            environment=Environment.PRODUCTION,
            cors_origins=["https://shop.example"],
            trusted_proxies=["10.0.0.2", "172.18.0.0/16"],
        ),
        "database": DatabaseSettings(url="postgresql+asyncpg://orders:s3cure-Pw@db:5432/orders"),
        "rabbitmq": RabbitMQSettings(url="amqp://orders:s3cure-Pw@mq:5672/"),
        "redis": RedisSettings(url="redis://:s3cure-Pw@redis:6379/0"),
        "auth": AuthSettings(
            jwt_private_key_path=key_dir / "jwt-private.pem",
            jwt_public_key_path=key_dir / "jwt-public.pem",
        ),
    }
    return {**defaults, **groups}


def test_safe_production_settings_are_accepted(key_dir: Path) -> None:
    assert Settings(**_production(key_dir)).app.environment is Environment.PRODUCTION


@pytest.mark.parametrize(
    ("group", "value", "complaint"),
    [
        (
            "database",
            DatabaseSettings(url="postgresql+asyncpg://postgres@db:5432/orders"),
            "DATABASE_URL",
        ),
        (
            "database",
            DatabaseSettings(url="postgresql+asyncpg://orders:change-me@db/orders"),
            "DATABASE_URL",
        ),
        ("rabbitmq", RabbitMQSettings(url="amqp://guest:guest@mq:5672/"), "RABBITMQ_URL"),
        (
            "app",
            AppSettings(environment=Environment.PRODUCTION, cors_origins=["*"]),
            "CORS_ORIGINS",
        ),
        ("redis", RedisSettings(url="redis://redis:6379/0"), "REDIS_URL"),
        ("redis", RedisSettings(url="redis://:change-me@redis:6379/0"), "REDIS_URL"),
        (
            "app",
            AppSettings(environment=Environment.PRODUCTION, trusted_proxies=["10.0.0.2", "*"]),
            "TRUSTED_PROXIES",
        ),
        (
            "app",
            AppSettings(environment=Environment.PRODUCTION, trusted_proxies=["0.0.0.0/0"]),
            "TRUSTED_PROXIES",
        ),
        (
            "app",
            AppSettings(environment=Environment.PRODUCTION, trusted_proxies=["::/0"]),
            "TRUSTED_PROXIES",
        ),
    ],
    ids=[
        "no-db-password",
        "placeholder-db-password",
        "guest-rabbitmq",
        "star-cors",
        "no-redis-password",
        "placeholder-redis-password",
        "star-proxies",
        "every-ipv4-proxy",
        "every-ipv6-proxy",
    ],
)
def test_production_refuses_unsafe_settings(
    key_dir: Path, group: str, value: object, complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(**_production(key_dir, **{group: value}))


@pytest.mark.parametrize("private", [True, False], ids=["private-key", "public-key"])
def test_the_api_refuses_production_without_its_keys(key_dir: Path, private: bool) -> None:
    nowhere = Path("/nowhere/key.pem")
    auth = AuthSettings(
        jwt_private_key_path=nowhere if private else key_dir / "jwt-private.pem",
        jwt_public_key_path=key_dir / "jwt-public.pem" if private else nowhere,
    )
    name = "JWT_PRIVATE_KEY_PATH" if private else "JWT_PUBLIC_KEY_PATH"

    with pytest.raises(ValidationError, match=rf"{name} /nowhere/key\.pem does not exist"):
        ApiProcessSettings(**_production(key_dir, auth=auth))


@pytest.mark.parametrize("root", [ConsumerProcessSettings, WorkerProcessSettings])
def test_consumer_and_worker_need_no_keys_in_production(
    key_dir: Path, root: type[Settings]
) -> None:
    """They read no key: the Helm chart mounts the key pair into the api alone."""
    nowhere = AuthSettings(
        jwt_private_key_path=Path("/nowhere/jwt-private.pem"),
        jwt_public_key_path=Path("/nowhere/jwt-public.pem"),
    )

    assert root(**_production(key_dir, auth=nowhere)).auth == nowhere
