"""The GraphQL endpoint's settings (GRAPHQL_*); the API process's root (api/settings.py) holds them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings import settings_group


class GraphQLSettings(BaseSettings):
    """The GraphQL endpoint (/graphql): its abuse limits and its developer tools."""

    model_config = settings_group("GRAPHQL_")

    # Schema introspection (the playground's docs and autocompletion), and with it "did you mean"
    # hints. Default: on, except with ENVIRONMENT=production (api/settings.py); explicit true wins.
    introspection: bool = True
    # The GraphiQL playground on GET /graphql, served from the app's own pinned copies (no CDN).
    # Default: on, except with ENVIRONMENT=production; explicit true wins.
    playground: bool = True
    # Deepest nesting of fields one operation may select (introspection fields are not counted).
    max_depth: int = Field(default=10, ge=1)
    # Aliased fields per operation: aliases let one request run a field many times.
    max_aliases: int = Field(default=15, ge=0)
    # Tokens per document; bounds the parser's work before anything else runs.
    max_tokens: int = Field(default=2000, ge=1)
    # Highest cost (graph/cost.py) an operation may have. The playground's examples cost at most
    # 1,541; a default page (50 orders) of every field of every order, item and owner costs 10,551.
    max_cost: int = Field(default=12_000, ge=1)
    # Persisted queries (APQ) kept, in each API process and in Redis; the least recently used go first.
    persisted_max_documents: int = Field(default=5_000, ge=1)
