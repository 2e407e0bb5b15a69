"""Idle sockets: a WebSocket that never sends `connection_init` is closed after
LIVE_INIT_TIMEOUT_SECONDS on both protocols, and one client address holds at most
LIVE_MAX_CONNECTIONS_PER_ADDRESS (50) sockets at once across the API processes; past it the new one
closes with 4429."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.abuse.conftest import Api, StartApi
from tests.support.live import ws_url
from tests.support.polling import until

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]


@contextlib.asynccontextmanager
async def idle_socket(
    api: Api, *, protocol: str = "graphql-transport-ws", address: str = "203.0.113.9"
) -> AsyncIterator[ClientConnection]:
    """A WebSocket opened from `address` (X-Forwarded-For, from the trusted loopback proxy) that
    sends nothing."""
    async with connect(
        ws_url(api.base_url),
        subprotocols=[Subprotocol(protocol)],
        additional_headers={"X-Forwarded-For": address},
        open_timeout=30,
    ) as connection:
        yield connection


async def close_code(connection: ClientConnection, *, within: float) -> int | None:
    """The code the server closed with, waiting at most `within` seconds (None: still open)."""
    deadline = time.monotonic() + within
    with contextlib.suppress(ConnectionClosed):
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(connection.recv(), left)
    return connection.close_code


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_that_never_initialises_is_closed(
    start_api: StartApi, protocol: str
) -> None:
    api = await start_api(LIVE_INIT_TIMEOUT_SECONDS="1")
    async with idle_socket(api, protocol=protocol) as connection:
        code = await close_code(connection, within=15)
    assert code == 4408


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_initialised_socket_stays_open(start_api: StartApi, protocol: str) -> None:
    api = await start_api(LIVE_INIT_TIMEOUT_SECONDS="1")
    async with api.client() as client:
        registered = await client.post(
            "/register/", json={"email": "socket@example.com", "password": "s3cret-password"}
        )
        assert registered.status_code == 201
        token = (
            await client.post(
                "/token", data={"username": "socket@example.com", "password": "s3cret-password"}
            )
        ).json()["access_token"]
    async with idle_socket(api, protocol=protocol) as connection:
        await connection.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await asyncio.wait_for(connection.recv(), 10))
        # Well past the init timeout: the socket is still open (the server only pings).
        code = await close_code(connection, within=3)

    assert ack["type"] == "connection_ack"
    assert code is None


async def test_one_address_holds_at_most_fifty_sockets(start_api: StartApi) -> None:
    api = await start_api()  # LIVE_MAX_CONNECTIONS_PER_ADDRESS 50, LIVE_INIT_TIMEOUT_SECONDS 10
    async with contextlib.AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(idle_socket(api, protocol=PROTOCOLS[n % 2]))
            for n in range(50)
        ]
        async with idle_socket(api) as refused:
            refused_code = await close_code(refused, within=10)
        async with idle_socket(api, protocol="graphql-ws") as refused_legacy:
            refused_legacy_code = await close_code(refused_legacy, within=10)
        # Another address is not affected.
        async with idle_socket(api, address="203.0.113.10") as other:
            other_code = await close_code(other, within=0.5)
        # One of the fifty leaves: its address may open one more.
        await held.pop().close()
        deadline = time.monotonic() + 10
        while True:
            async with idle_socket(api) as again:
                again_code = await close_code(again, within=0.5)
            if again_code is None or time.monotonic() > deadline:
                break

    assert refused_code == refused_legacy_code == 4429
    assert other_code is None
    assert again_code is None
    assert api.process.count("WebSocket refused from 203.0.113.9") == 2


async def test_the_limit_holds_across_the_api_processes_of_a_deployment(
    start_api: StartApi, redis_client: Redis
) -> None:
    # Two processes of one deployment (one Redis key prefix); the address's sockets are spread over
    # both, as a load balancer would spread them.
    # The count is in Redis; on a busy test machine its default 0.1 s timeout could open the breaker,
    # and the limit fails open without Redis.
    deployment = {"LIVE_MAX_CONNECTIONS_PER_ADDRESS": "4", "REDIS_SOCKET_TIMEOUT_SECONDS": "5"}
    first = await start_api(**deployment)
    second = await start_api(**deployment, REDIS_KEY_PREFIX=first.key_prefix)
    async with contextlib.AsyncExitStack() as stack:
        for api in (first, second, first, second):
            await stack.enter_async_context(idle_socket(api))
        # A socket's lease is taken once the server handles it, just after the handshake.
        leases = f"{first.key_prefix}live:addresses:203.0.113.9"

        async def all_four_held() -> bool:
            return int(await redis_client.zcard(leases)) == 4

        await until(all_four_held, within=10, what="the four sockets' leases in Redis")
        async with idle_socket(second) as refused:
            refused_code = await close_code(refused, within=10)
        async with idle_socket(first, address="203.0.113.10") as other:
            other_code = await close_code(other, within=0.5)

    assert refused_code == 4429
    assert other_code is None
    assert second.process.count("WebSocket refused from 203.0.113.9") == 1
