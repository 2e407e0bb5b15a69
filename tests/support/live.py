"""Real live-update clients for the tests: GraphQL over WebSocket (`graphql-transport-ws`, and the older
`graphql-ws`) with the `websockets` library, and Server-Sent Events read off an httpx stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.staff import orders_admin

ORDER_EVENTS = """
subscription($id: UUID!, $after: Int) {
  orderEvents(id: $id, afterSeq: $after) { orderId seq kind status previousStatus at }
}
"""
MY_ORDER_EVENTS = "subscription { myOrderEvents { orderId seq kind status previousStatus } }"


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


def token_expiring_in(key_dir: Path, *, user_id: int, seconds: int) -> str:
    """A token like the service's own (same key, issuer, audience), expiring soon."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "iat": now,
        "nbf": now,
        "exp": now + seconds,
        "iss": "orders",
        "aud": "orders-api",
    }
    return jwt.encode(claims, (key_dir / "jwt-private.pem").read_bytes(), algorithm="RS256")


class GraphQLSocket:
    """One WebSocket to /graphql speaking `graphql-transport-ws`: messages in arrival order."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        base_url: str,
        *,
        token: str | None,
        in_header: bool = False,
        protocol: str = "graphql-transport-ws",
    ) -> AsyncIterator[GraphQLSocket]:
        """Connect and send `connection_init` (the token in its payload, or in the upgrade request's
        header with `in_header`); the ack is not awaited (see `acknowledged`)."""
        headers = {"Authorization": f"Bearer {token}"} if token and in_header else None
        async with connect(
            ws_url(base_url),
            subprotocols=[Subprotocol(protocol)],
            additional_headers=headers,
        ) as connection:
            socket = cls(connection)
            payload = {"Authorization": f"Bearer {token}"} if token and not in_header else {}
            await socket.send({"type": "connection_init", "payload": payload})
            yield socket

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, *, within: float, skip_pings: bool = True) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"no message within {within}s"
                raise AssertionError(msg)
            try:
                raw = await asyncio.wait_for(self.connection.recv(), remaining)
            except TimeoutError:
                continue
            message: dict[str, Any] = json.loads(raw)
            if skip_pings and message.get("type") in {"ping", "pong", "ka"}:
                if message["type"] == "ping":
                    await self.send({"type": "pong"})
                continue
            return message

    async def acknowledged(self, *, within: float = 5) -> None:
        message = await self.receive(within=within)
        assert message["type"] == "connection_ack", message

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, *, operation_id: str = "1"
    ) -> str:
        await self.send(
            {
                "id": operation_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return operation_id

    async def next_data(self, *, within: float) -> dict[str, Any]:
        """The data of the next `next` message (failing on errors)."""
        message = await self.receive(within=within)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def closed(self, *, within: float) -> tuple[int, str]:
        """The close code and reason the server closed with."""
        deadline = time.monotonic() + within
        with contextlib.suppress(ConnectionClosed):
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.connection.recv(), deadline - time.monotonic())
        received = self.connection.close_code
        assert received is not None, f"still open after {within}s"
        return received, self.connection.close_reason or ""


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: str

    def json(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.data)
        return decoded


@dataclass
class SseStream:
    """A `text/event-stream` response read as it arrives: events, and the comment lines seen."""

    response: httpx.Response
    comments: list[str] = field(default_factory=list)
    _lines: AsyncIterator[str] | None = None

    async def next_event(self, *, within: float) -> SseEvent:
        if self._lines is None:
            self._lines = self.response.aiter_lines()
        fields: dict[str, str] = {}
        data: list[str] = []
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line == "":
                    if data:
                        return SseEvent(fields.get("id"), fields.get("event"), "\n".join(data))
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
        msg = "the stream ended"
        raise AssertionError(msg)

    async def ended(self, *, within: float) -> bool:
        """True once the server ends the stream (comments are collected meanwhile)."""
        if self._lines is None:
            self._lines = self.response.aiter_lines()
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments.append(line)
        return True


@contextlib.asynccontextmanager
async def sse(
    client: httpx.AsyncClient, order_id: str, headers: dict[str, str]
) -> AsyncIterator[SseStream]:
    async with client.stream(
        "GET", f"/orders/{order_id}/events/", headers=headers, timeout=httpx.Timeout(30, read=None)
    ) as response:
        yield SseStream(response)


@dataclass(frozen=True)
class LiveUser:
    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def new_user(client: httpx.AsyncClient) -> LiveUser:
    email = f"live-{uuid.uuid4().hex[:8]}@example.com"
    registered = await client.post(
        "/register/", json={"email": email, "password": "pw-s3cret-9412"}
    )
    assert registered.status_code == 201, registered.text
    token = await client.post("/token", data={"username": email, "password": "pw-s3cret-9412"})
    assert token.status_code == 200, token.text
    return LiveUser(id=registered.json()["id"], token=token.json()["access_token"])


async def new_staff(client: httpx.AsyncClient, database_url: str) -> LiveUser:
    """A user made staff by `orders-admin grant-staff`, with a token issued after it."""
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    registered = await client.post(
        "/register/", json={"email": email, "password": "pw-s3cret-9412"}
    )
    assert registered.status_code == 201, registered.text
    status, _, err = await orders_admin(database_url, "grant-staff", email)
    assert status == 0, err
    token = await client.post("/token", data={"username": email, "password": "pw-s3cret-9412"})
    assert token.status_code == 200, token.text
    return LiveUser(id=registered.json()["id"], token=token.json()["access_token"])


async def new_order(client: httpx.AsyncClient, user: LiveUser) -> str:
    created = await client.post(
        "/orders/",
        json={"items": [{"product_id": "sku-1", "quantity": 1, "price": "4.00"}]},
        headers=user.headers,
    )
    assert created.status_code == 201, created.text
    order_id: str = created.json()["id"]
    return order_id


async def set_status(
    client: httpx.AsyncClient, user: LiveUser, order_id: str, status: str
) -> httpx.Response:
    response = await client.patch(
        f"/orders/{order_id}/", json={"status": status}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return response


async def wait_for_leases(redis_url: str, key_prefix: str, user_id: int, count: int) -> None:
    """Until `user_id` holds `count` live subscriptions. Each takes its lease (edge/live/hub.py) just
    before it starts listening: the only outside sign that a subscription without a replay is live."""
    client = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 10
        while (held := await client.zcard(f"{key_prefix}live:leases:{user_id}")) != count:
            if time.monotonic() > deadline:
                msg = f"user {user_id} holds {held} live subscriptions, not {count}"
                raise AssertionError(msg)
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()
