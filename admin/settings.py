"""The `orders-admin` command's settings: the shared groups (DATABASE_URL, `.env`) and its own."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from infra.settings import Settings, settings_group


class AdminSettings(BaseSettings):
    model_config = settings_group("ORDERS_ADMIN_")

    # create-staff's password; unset, the command asks for it on the terminal.
    password: SecretStr | None = None


class AdminProcessSettings(Settings):
    """Everything `orders-admin` reads."""

    admin: AdminSettings = Field(default_factory=AdminSettings)
