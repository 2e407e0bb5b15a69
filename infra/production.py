"""What the settings must not be in production (`ENVIRONMENT=production`): defaults and shortcuts
that are only fit for a laptop. The settings root refuses to load with any of them."""

from __future__ import annotations

from ipaddress import ip_network
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from infra.settings import Settings


def unsafe_for_production(settings: Settings) -> list[str]:
    """Every problem, one phrase each (empty: fit for production)."""
    problems = [
        f"{name} uses a default or empty password"
        for name, url in (
            ("DATABASE_URL", settings.database.url),
            ("REDIS_URL", settings.redis.url),
            *(("RABBITMQ_URLS", url) for url in settings.rabbitmq.node_urls()),
        )
        if urlsplit(url).password in _WEAK_PASSWORDS
    ]
    if "*" in settings.app.cors_origins:
        problems.append("CORS_ORIGINS must list origins, not *")
    if any(_is_everyone(proxy) for proxy in settings.app.trusted_proxies):
        problems.append("TRUSTED_PROXIES must list proxies, not * or a whole-internet range")
    if settings.webhooks.allow_private_targets:
        problems.append("WEBHOOK_ALLOW_PRIVATE_TARGETS is for development and tests only")
    # The JWT keys are checked by the api's root (api/settings.py): no other process reads them.
    return problems


def _is_everyone(proxy: str) -> bool:
    """`*`, or a network such as 0.0.0.0/0 or ::/0 that every client address falls in."""
    if proxy == "*":
        return True
    try:
        return ip_network(proxy, strict=False).prefixlen == 0
    except ValueError:
        return False


_WEAK_PASSWORDS = {
    None,
    "",
    "guest",
    "postgres",
    "password",
    "change-me",
    "changeme",
    "secret",
    "orders",
}
