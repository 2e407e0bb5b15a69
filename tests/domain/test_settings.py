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
from tests.support.app import running_app


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
    ],
    ids=["no-db-password", "placeholder-db-password", "guest-rabbitmq", "star-cors"],
)
def test_production_refuses_unsafe_settings(
    key_dir: Path, group: str, value: object, complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        _production(key_dir, **{group: value})


def test_processes_that_sign_nothing_need_no_keys(key_dir: Path) -> None:
    """The consumer and the worker read no key: in production they start without one mounted."""
    nowhere = AuthSettings(
        jwt_private_key_path=Path("/nowhere/jwt-private.pem"),
        jwt_public_key_path=Path("/nowhere/jwt-public.pem"),
    )

    assert _production(key_dir, auth=nowhere).auth == nowhere


async def test_the_api_refuses_to_start_without_its_private_key(key_dir: Path) -> None:
    settings = _production(
        key_dir, auth=AuthSettings(jwt_private_key_path=Path("/nowhere/key.pem"))
    )

    with pytest.raises(RuntimeError, match=r"JWT private key not found at /nowhere/key\.pem"):
        async with running_app(settings):
            pass
