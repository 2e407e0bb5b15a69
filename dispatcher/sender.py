"""One delivery attempt over HTTP: resolve and check the target, connect to that very address,
POST the signed body, read at most 64 KB of the answer.

Each endpoint has its own connection pool (an `httpx.AsyncClient`), so one endpoint's connections
are never reused for another's host, and a hanging endpoint holds only its own connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import ssl
import time
import uuid
from collections.abc import Callable

import httpx

from domain.webhooks import deliveries, signing, targets
from domain.webhooks.delivery_repository import ClaimedDelivery
from domain.webhooks.errors import WebhookTargetRefused
from infra.db import utcnow
from infra.settings import Environment, WebhookSettings

READ_LIMIT = 64 * 1024
LOGGED_BODY = 1024


def _version() -> str:
    try:
        return importlib.metadata.version("orders")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


USER_AGENT = f"orders-webhooks/{_version()}"


class Sender:
    def __init__(
        self, *, settings: WebhookSettings, environment: Environment, per_endpoint: int
    ) -> None:
        self._settings = settings
        self._environment = environment
        self._per_endpoint = per_endpoint
        self._clients: dict[uuid.UUID, httpx.AsyncClient] = {}
        self._tls = _trust()

    def _client(self, endpoint_id: uuid.UUID) -> httpx.AsyncClient:
        client = self._clients.get(endpoint_id)
        if client is None:
            client = httpx.AsyncClient(
                follow_redirects=False,
                # The environment's proxies would connect to an address we did not check.
                trust_env=False,
                verify=self._tls,
                timeout=self._settings.timeout_seconds,
                limits=httpx.Limits(
                    max_connections=self._per_endpoint,
                    max_keepalive_connections=self._per_endpoint,
                ),
            )
            self._clients[endpoint_id] = client
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def attempt(self, delivery: ClaimedDelivery) -> deliveries.AttemptResult:
        """Never raises for anything the endpoint or the network does: every outcome is a result."""
        started = time.monotonic()

        def elapsed_ms() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                target = await targets.resolve(delivery.url, self._settings, self._environment)
                return await self._post(delivery, target, elapsed_ms)
        except WebhookTargetRefused as refused:
            return deliveries.AttemptResult(
                response_status=None, duration_ms=elapsed_ms(), error=refused.rule, refused=True
            )
        except TimeoutError:
            return deliveries.AttemptResult(
                response_status=None,
                duration_ms=elapsed_ms(),
                error=f"no answer within {self._settings.timeout_seconds:g}s",
            )
        except httpx.HTTPError as exc:
            return deliveries.AttemptResult(
                response_status=None,
                duration_ms=elapsed_ms(),
                error=f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__,
            )

    async def _post(
        self, delivery: ClaimedDelivery, target: targets.Target, elapsed_ms: Callable[[], int]
    ) -> deliveries.AttemptResult:
        body = deliveries.body_of(delivery)
        timestamp = int(time.time())
        signature = signing.sign(
            secrets_=deliveries.signing_secrets(delivery, now=utcnow()),
            message_id=delivery.id,
            timestamp=timestamp,
            body=body,
        )
        request_url = _pinned_url(delivery.url, target)
        host = f"[{target.host}]" if ":" in target.host else target.host
        default_port = 443 if target.scheme == "https" else 80
        host_header = host if target.port == default_port else f"{host}:{target.port}"
        headers = {
            "host": host_header,
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        client = self._client(delivery.endpoint_id)
        request = client.build_request(
            "POST", request_url, content=body, headers=headers, extensions=extensions
        )
        response = await client.send(request, stream=True)
        try:
            kept = bytearray()
            async for chunk in response.aiter_raw():
                kept += chunk
                if len(kept) >= READ_LIMIT:
                    break
        finally:
            await response.aclose()
        return deliveries.AttemptResult(
            response_status=response.status_code,
            duration_ms=elapsed_ms(),
            response_body=bytes(kept[:LOGGED_BODY]).decode("utf-8", "replace") or None,
            retry_after=response.headers.get("retry-after"),
        )


def _trust() -> ssl.SSLContext:
    """Who may sign a receiver's certificate: certifi's authorities, or those of `SSL_CERT_FILE` /
    `SSL_CERT_DIR` (OpenSSL's variables: a private CA), honoured although the client ignores the rest
    of the environment. The certificate must name the URL's host: the handshake sends it (SNI) and
    checks it, although the connection goes to the checked address."""
    return httpx.create_ssl_context(trust_env=True)


def _pinned_url(url: str, target: targets.Target) -> httpx.URL:
    """`url` with its host replaced by the checked address: the connection goes there, nowhere else."""
    return httpx.URL(url).copy_with(host=str(target.address), port=target.port)
