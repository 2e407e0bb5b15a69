"""The API process's settings: the shared groups, the relay it runs, the GraphQL endpoint it mounts and
its live updates."""

from __future__ import annotations

from functools import lru_cache
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from edge.settings import LiveSettings, OrderRulesSettings
from graph.settings import GraphQLSettings
from infra.settings import Environment, Settings, settings_group
from relay.settings import OutboxSettings, ReconcileSettings


class ServerSettings(BaseSettings):
    """The API's server (`python -m api`, api/__main__.py)."""

    model_config = settings_group("")

    # WebSocket messages larger than this close the socket with 1009 before the app reads them.
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024)


class ApiProcessSettings(Settings):
    """Everything `python -m api` (uvicorn, `api.main:create_app`) reads."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    graphql: GraphQLSettings = Field(default_factory=GraphQLSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    order_rules: OrderRulesSettings = Field(default_factory=OrderRulesSettings)

    @model_validator(mode="after")
    def _no_developer_tools_in_production(self) -> Self:
        """In production the playground and introspection are off unless set explicitly (a public
        deployment should not hand out its schema); elsewhere they are on by default."""
        if self.app.environment is Environment.PRODUCTION:
            for name in ("introspection", "playground"):
                if name not in self.graphql.model_fields_set:
                    setattr(self.graphql, name, False)
        return self

    @model_validator(mode="after")
    def _keys_present_in_production(self) -> Self:
        """The api signs and verifies tokens, the one process that reads the JWT keys: in production
        it refuses to start without them (consumer and worker run with no key mounted)."""
        if self.app.environment is not Environment.PRODUCTION:
            return self
        missing = [
            f"{name} {path} does not exist"
            for name, path in (
                ("JWT_PRIVATE_KEY_PATH", self.auth.jwt_private_key_path),
                ("JWT_PUBLIC_KEY_PATH", self.auth.jwt_public_key_path),
            )
            if not path.is_file()
        ]
        if missing:
            msg = "refusing to start with ENVIRONMENT=production: " + "; ".join(missing)
            raise ValueError(msg)
        return self


@lru_cache
def get_api_settings() -> ApiProcessSettings:
    return ApiProcessSettings()
