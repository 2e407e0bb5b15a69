"""Deliveries over HTTPS: the receiver's certificate is verified against the URL's host name, although
the connection goes to the address the dispatcher resolved and checked (no DNS-rebinding window)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.webhooks.schemas import WebhookEvent
from tests.dispatcher.conftest import (
    CreateEndpoint,
    customer,
    delivery_rows,
    dispatcher,
    new_order,
)
from tests.support.polling import until
from tests.support.processes import Processes
from tests.support.receiver import Receiver
from tests.support.tls import authority

Receivers = Callable[..., Awaitable[Receiver]]


async def test_https_deliveries_verify_the_certificate_against_the_urls_host(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
    webhook_db: AsyncEngine,
    tmp_path: Path,
) -> None:
    ca = authority(tmp_path)
    trusted = await receivers(tls=ca.server_context(tmp_path, "localhost"))
    # Signed by the same authority, but for another name than the URL's `localhost`.
    misnamed = await receivers(tls=ca.server_context(tmp_path, "other.example"))
    good = await create_endpoint(trusted.url, [WebhookEvent.ORDER_CREATED])
    bad = await create_endpoint(misnamed.url, [WebhookEvent.ORDER_CREATED])
    api, base_url = processes.api()
    # The private authority, as an operator would give it for receivers signed by their own CA.
    webhooks = dispatcher(processes, SSL_CERT_FILE=str(ca.cert_path))
    await processes.ready(api, webhooks)

    order = await new_order(base_url, await customer(base_url))

    received = await trusted.wait_for(1)
    body: dict[str, Any] = received[0].verified(good.secret)  # type: ignore[assignment]
    assert body["data"]["id"] == order["id"]
    assert received[0].headers["host"] == f"localhost:{trusted.port}"

    async def refused_attempt() -> bool:
        rows = await delivery_rows(webhook_db, bad.id)
        return bool(rows) and any(attempt["error"] for attempt in rows[0]["attempts"])

    await until(refused_attempt, within=30, what="an attempt to the misnamed receiver recorded")
    attempts = (await delivery_rows(webhook_db, bad.id))[0]["attempts"]
    assert "certificate" in attempts[0]["error"].lower(), attempts
    assert attempts[0]["response_status"] is None
    assert misnamed.requests == []  # the handshake failed: no request was ever sent
