"""The API process's settings: the shared groups, the relay it runs and the GraphQL endpoint it mounts."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from graph.settings import GraphQLSettings
from infra.settings import Settings
from relay.settings import OutboxSettings


class ApiProcessSettings(Settings):
    """Everything `uvicorn --factory api.main:create_app` reads."""

    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    graphql: GraphQLSettings = Field(default_factory=GraphQLSettings)


@lru_cache
def get_api_settings() -> ApiProcessSettings:
    return ApiProcessSettings()
