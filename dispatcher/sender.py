"""One delivery attempt over HTTP: resolve and check the target, connect to that very address,
POST the signed body, read at most 64 KB of the answer.

Each endpoint has its own connection pool (an `aiohttp.ClientSession`), so one endpoint's
connections are never reused for another's host, and a hanging endpoint holds only its own
connections. aiohttp rather than httpx: per request it costs a small fraction of httpx's CPU
(docs/performance.md, webhooks), which is most of what a delivery costs the dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import ssl
import time
import uuid
from collections.abc import Callable
from urllib.parse import quote

import aiohttp
import certifi
from yarl import URL

from domain.webhooks import deliveries, signing, targets
from domain.webhooks.delivery_repository import ClaimedDelivery
from domain.webhooks.errors import WebhookTargetRefused
from infra.db import utcnow
from infra.settings import Environment, WebhookSettings

READ_LIMIT = 64 * 1024
LOGGED_BODY = 1024
# Reserved characters and "%": left as they are in a URL (RFC 3986), everything else is escaped.
_URL_CHARACTERS = "!#$%&'()*+,/:;=?@[]~"


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
        self._clients: dict[uuid.UUID, aiohttp.ClientSession] = {}
        self._tls = _trust()

    def _client(self, endpoint_id: uuid.UUID) -> aiohttp.ClientSession:
        client = self._clients.get(endpoint_id)
        if client is None:
            client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._per_endpoint, limit_per_host=0, ssl=self._tls
                ),
                # The environment's proxies would connect to an address we did not check.
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout_seconds),
                # A receiver's cookies are not sent back to it (nor kept).
                cookie_jar=aiohttp.DummyCookieJar(),
                # The answer is logged as it came; nothing asks for it compressed.
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
            )
            self._clients[endpoint_id] = client
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()

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
        except aiohttp.ClientError as exc:
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
        async with self._client(delivery.endpoint_id).post(
            request_url,
            data=body,
            headers=headers,
            allow_redirects=False,
            # TLS: the handshake names, and the certificate must name, the URL's host.
            server_hostname=target.host if target.scheme == "https" else None,
        ) as response:
            kept = bytearray()
            while len(kept) < READ_LIMIT:
                chunk = await response.content.read(READ_LIMIT - len(kept))
                if not chunk:
                    break
                kept += chunk
            # Leaving the block closes the connection if the answer was not read to its end.
        return deliveries.AttemptResult(
            response_status=response.status,
            duration_ms=elapsed_ms(),
            response_body=bytes(kept[:LOGGED_BODY]).decode("utf-8", "replace") or None,
            retry_after=response.headers.get("retry-after"),
        )


def _trust() -> ssl.SSLContext:
    """Who may sign a receiver's certificate: certifi's authorities, or those of `SSL_CERT_FILE` /
    `SSL_CERT_DIR` (OpenSSL's variables: a private CA), honoured although the client ignores the rest
    of the environment. The certificate must name the URL's host: the handshake sends it (SNI) and
    checks it, although the connection goes to the checked address."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def _pinned_url(url: str, target: targets.Target) -> URL:
    """`url` with its host replaced by the checked address: the connection goes there, nowhere else.
    Its path and query are sent as registered (a receiver may compare them, tokens included): only
    what may not appear in a URL unescaped (a space, non-ASCII) is percent-encoded, existing escapes
    are kept as they are."""
    as_registered = URL(quote(url, safe=_URL_CHARACTERS), encoded=True)
    return as_registered.with_host(str(target.address)).with_port(target.port)
