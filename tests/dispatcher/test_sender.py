"""One attempt's HTTP (dispatcher/sender.py), in process against real servers on 127.0.0.1: what is
sent, to which address, what is read of the answer, and what is never done (follow a redirect, use
the environment's proxy, send a receiver's cookies back)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from dispatcher.sender import LOGGED_BODY, READ_LIMIT, Sender
from domain.webhooks.delivery_repository import ClaimedDelivery
from infra.db import utcnow
from infra.settings import Environment, WebhookSettings
from tests.support.receiver import Answer, Receiver

Receivers = Callable[..., Awaitable[Receiver]]
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def delivery(url: str) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=f"msg_{uuid.uuid4().hex}",
        endpoint_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        seq=1,
        event_type="order.created",
        payload={"type": "order.created", "data": {"id": "o-1"}},
        tries=0,
        traceparent=None,
        url=url,
        secret=SECRET,
        previous_secret=None,
        previous_secret_until=None,
        consecutive_failures=0,
        leased_until=utcnow() + timedelta(seconds=30),
    )


@pytest.fixture
async def sender() -> AsyncIterator[Sender]:
    made = Sender(
        settings=WebhookSettings(allow_private_targets=True, timeout_seconds=2),
        environment=Environment.DEVELOPMENT,
        per_endpoint=4,
    )
    yield made
    await made.close()


async def test_the_request_goes_to_the_checked_address_and_names_the_urls_host(
    sender: Sender, receivers: Receivers
) -> None:
    receiver = await receivers()
    url = f"http://localhost:{receiver.port}/hooks/a%2Fb c?token=a%2Fb&x=ü"

    result = await sender.attempt(delivery(url))

    assert (result.response_status, result.response_body, result.error) == (200, "ok", None)
    [request] = receiver.requests
    # As registered, but for what may not be sent unescaped.
    assert request.path == "/hooks/a%2Fb%20c?token=a%2Fb&x=%C3%BC"
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.headers["user-agent"].startswith("orders-webhooks/")
    assert request.headers["content-type"] == "application/json"
    # The answer is logged as sent: nothing asks for it compressed.
    assert "accept-encoding" not in request.headers
    assert request.verified(SECRET) == {"type": "order.created", "data": {"id": "o-1"}}


async def test_a_redirect_is_an_answer_never_followed(sender: Sender, receivers: Receivers) -> None:
    elsewhere = await receivers()
    redirecting = await receivers(lambda _: Answer(status=307, headers={"location": elsewhere.url}))

    result = await sender.attempt(delivery(redirecting.url))

    assert result.response_status == 307
    assert elsewhere.requests == []


async def test_at_most_64_kb_of_the_answer_is_read_and_its_first_kilobyte_kept(
    sender: Sender,
) -> None:
    """The receiver announces 10 MB, sends 100 KB and stalls: the attempt ends at 64 KB, long
    before the timeout, rather than waiting for the rest."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n" + b"x" * 100_000)
        await writer.drain()
        await asyncio.Event().wait()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await sender.attempt(delivery(f"http://127.0.0.1:{port}/"))
    finally:
        server.close()
    assert result.response_status == 200, result
    assert result.response_body == "x" * LOGGED_BODY
    assert result.duration_ms < 1000
    assert READ_LIMIT == 64 * 1024


async def test_retry_after_is_passed_on(sender: Sender, receivers: Receivers) -> None:
    receiver = await receivers(lambda _: Answer(status=429, headers={"retry-after": "7"}))

    result = await sender.attempt(delivery(receiver.url))

    assert (result.response_status, result.retry_after) == (429, "7")


async def test_no_answer_within_the_timeout_is_an_outcome(receivers: Receivers) -> None:
    receiver = await receivers(lambda _: Answer(hang=True))
    sender = Sender(
        settings=WebhookSettings(allow_private_targets=True, timeout_seconds=0.3),
        environment=Environment.DEVELOPMENT,
        per_endpoint=4,
    )
    try:
        result = await sender.attempt(delivery(receiver.url))
    finally:
        await sender.close()
    assert (result.response_status, result.error) == (None, "no answer within 0.3s")


async def test_a_refused_connection_is_an_outcome(sender: Sender) -> None:
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()

    result = await sender.attempt(delivery(f"http://127.0.0.1:{port}/"))

    assert result.response_status is None
    assert result.error
    assert not result.refused


async def test_neither_the_environments_proxy_nor_a_receivers_cookies_are_used(
    sender: Sender, receivers: Receivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect to an address nobody checked; here it would refuse the connection.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    receiver = await receivers(lambda _: Answer(headers={"set-cookie": "session=1; Path=/"}))
    first = delivery(receiver.url)

    await sender.attempt(first)
    again = await sender.attempt(first)

    assert again.response_status == 200, again
    assert len(receiver.requests) == 2
    assert "cookie" not in receiver.requests[1].headers
