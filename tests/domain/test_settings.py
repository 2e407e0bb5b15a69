"""Production settings refuse what is only fit for a laptop."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.settings import (
    AppSettings,
    AuthSettings,
    DatabaseSettings,
    Environment,
    RabbitMQSettings,
    Settings,
)


def _production(key_dir: Path, **groups: object) -> Settings:
    defaults: dict[str, object] = {
        "app": AppSettings(
            environment=Environment.PRODUCTION, cors_origins=["https://shop.example"]
        ),
        "database": DatabaseSettings(url="postgresql+asyncpg://orders:s3cure-Pw@db:5432/orders"),
        "rabbitmq": RabbitMQSettings(url="amqp://orders:s3cure-Pw@mq:5672/"),
        "auth": AuthSettings(
            jwt_private_key_path=key_dir / "jwt-private.pem",
            jwt_public_key_path=key_dir / "jwt-public.pem",
        ),
    }
    return Settings(**{**defaults, **groups})


def test_safe_production_settings_are_accepted(key_dir: Path) -> None:
    assert _production(key_dir).app.environment is Environment.PRODUCTION


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
        (
            "auth",
            AuthSettings(jwt_private_key_path=Path("/nowhere/key.pem")),
            "JWT_PRIVATE_KEY_PATH",
        ),
    ],
    ids=["no-db-password", "placeholder-db-password", "guest-rabbitmq", "star-cors", "missing-key"],
)
def test_production_refuses_unsafe_settings(
    key_dir: Path, group: str, value: object, complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        _production(key_dir, **{group: value})
