"""Settings of what both interfaces share in the API process: live updates (LIVE_*), the order
rules a shop chooses (CUSTOMER_STATUS_CHANGES)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from domain.orders.permissions import CustomerStatusChanges
from infra.settings import settings_group


class LiveSettings(BaseSettings):
    """Live order events: GraphQL subscriptions (WebSocket) and Server-Sent Events."""

    model_config = settings_group("LIVE_")

    # Live subscriptions (GraphQL and SSE together) one user may hold at once, across all API processes.
    max_subscriptions_per_user: int = Field(default=20, ge=1)
    # Idle WebSockets get a ping, and SSE streams a comment, this often (keeps proxies from closing them).
    ping_interval_seconds: float = Field(default=15.0, gt=0)
    # On SIGTERM, how long live connections get to close (code 1001) before the server stops anyway.
    shutdown_grace_seconds: float = Field(default=5.0, gt=0)
    # A WebSocket that has not sent `connection_init` this long after opening is closed (4408).
    init_timeout_seconds: float = Field(default=10.0, gt=0)
    # WebSockets one client address (as the rate limiter sees it) may hold open at once across the
    # deployment's API processes, signed in or not; past it the new socket closes with 4429.
    max_connections_per_address: int = Field(default=50, ge=1)


class OrderRulesSettings(BaseSettings):
    """The order rules a shop chooses (domain/orders/permissions.py)."""

    model_config = settings_group("")

    # Which status moves customers may make on their own orders: `all` (the spec's PATCH) or
    # `cancel` (only PENDING → CANCELED; paying and shipping are staff's). A shop whose payment
    # provider confirms payments should choose `cancel`.
    customer_status_changes: CustomerStatusChanges = CustomerStatusChanges.ALL
