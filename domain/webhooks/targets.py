"""Where a webhook may be sent: the rules against server-side request forgery.

A URL is checked when an endpoint is created or changed, and its host is resolved and checked again
before every attempt, which then connects to the address that was checked (never resolving twice),
so a DNS answer that changes in between (rebinding) cannot redirect a delivery inside the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.webhooks.errors import WebhookTargetRefused
from infra.settings import Environment, WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services, named in refusals because they are the classic target.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_RESOLVE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Target:
    """A URL taken apart: where to connect (`address`, checked) and what to call the host there."""

    scheme: str
    host: str
    port: int
    address: IPAddress


def address_rule(address: IPAddress) -> str | None:
    """Why `address` may not receive webhooks (None when it may): the rule it breaks, by name."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_rule(address.ipv4_mapped)
    if address in _METADATA:
        return "a cloud metadata address"
    for name, broken in (
        ("a loopback address", address.is_loopback),
        ("an unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a unique-local address", address in _UNIQUE_LOCAL),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
        # Shared (carrier-grade NAT), documentation, benchmarking and other special ranges.
        ("a reserved address", not address.is_global),
    ):
        if broken:
            return name
    return None


def check_url(
    url: str, settings: WebhookSettings, environment: Environment
) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL; `WebhookTargetRefused` naming the rule otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookTargetRefused("the URL is not valid") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise WebhookTargetRefused("the URL must be http:// or https://")
    if scheme == "http" and environment is Environment.PRODUCTION and not settings.allow_http:
        raise WebhookTargetRefused("the URL must be https:// (WEBHOOK_ALLOW_HTTP is off)")
    if parts.username or parts.password:
        raise WebhookTargetRefused("the URL must not carry credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookTargetRefused("the URL has no host")
    return scheme, host, port or (443 if scheme == "https" else 80)


async def resolve(url: str, settings: WebhookSettings, environment: Environment) -> Target:
    """The URL's target, its host resolved and the first address checked; every address the name
    resolves to must pass (a name with one private address among public ones is refused)."""
    scheme, host, port = check_url(url, settings, environment)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _lookup(host, port)
    if not settings.allow_private_targets:
        for address in addresses:
            rule = address_rule(address)
            if rule is not None:
                msg = f"the host {host} is or resolves to {rule} ({address})"
                raise WebhookTargetRefused(msg)
    return Target(scheme=scheme, host=host, port=port, address=addresses[0])


async def _lookup(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError):
        raise WebhookTargetRefused(f"the host {host} does not resolve") from None
    addresses: list[IPAddress] = []
    for info in infos:
        # Drop an IPv6 scope ("fe80::1%eth0"): the address itself is what the rules judge.
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookTargetRefused(f"the host {host} does not resolve")
    return addresses
