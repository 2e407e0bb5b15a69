"""Giant tokens and messages: a token over 4 KB is refused before it is decoded, request heads over
16 KB and WebSocket messages over WS_MAX_MESSAGE_BYTES (64 KB) are refused by the server before the
app reads them, and the API keeps answering everyone else meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.abuse.conftest import Api, codes, post_graphql
from tests.conftest import ApiUser
from tests.support.live import GraphQLSocket, ws_url

ORDER_PATH = f"/orders/{uuid.uuid4()}/"
TOO_LONG_TOKEN = "a" * 4097  # over 4 KB, under the 16 KB head limit: it reaches the app


@pytest.fixture(scope="module")
async def api(shared_api: Api) -> Api:
    return shared_api


@pytest.fixture(scope="module")
async def user(shared_api: Api) -> ApiUser:
    return await shared_api.user()


async def test_a_token_over_4_kb_is_unauthenticated_on_rest_and_graphql(api: Api) -> None:
    headers = {"Authorization": f"Bearer {TOO_LONG_TOKEN}"}
    async with api.client() as client:
        rest = await client.get(ORDER_PATH, headers=headers)
        graph = await post_graphql(client, "{ me { id } }", headers=headers)

    assert rest.status_code == 401, rest.text
    assert rest.json()["detail"] == "Access tokens are at most 4096 characters"
    assert codes(graph) == ["UNAUTHENTICATED"]
    assert graph.json()["errors"][0]["message"] == "Access tokens are at most 4096 characters"


async def test_a_token_over_4_kb_in_connection_init_closes_the_socket_with_4401(api: Api) -> None:
    async with GraphQLSocket.open(api.base_url, token=TOO_LONG_TOKEN) as socket:
        code, _ = await socket.closed(within=10)
    assert code == 4401


async def _raw_request(api: Api, head: bytes, *, chunk: int = 65_536) -> bytes:
    """Send `head` in chunks, stopping as soon as the server answers; the server's answer (or b""
    when it closed without one)."""
    host, port = api.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    answer = b""
    try:
        for start in range(0, len(head), chunk):
            try:
                writer.write(head[start : start + chunk])
                await writer.drain()
            except ConnectionError:
                break
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(4096), 0.01)
            if answer or reader.at_eof():
                break
        if not answer:
            with contextlib.suppress(ConnectionError):
                answer = await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answer


@pytest.mark.parametrize(
    ("what", "header"),
    [
        ("an 8 MB bearer token", b"Authorization: Bearer " + b"a" * 8_000_000 + b"\r\n"),
        (
            "40 headers of 1 KB",
            b"".join(b"X-Pad-%d: " % n + b"b" * 1000 + b"\r\n" for n in range(40)),
        ),
    ],
)
async def test_request_heads_over_16_kb_are_refused_with_431(
    api: Api, user: ApiUser, what: str, header: bytes
) -> None:
    head = b"GET " + ORDER_PATH.encode() + b" HTTP/1.1\r\nHost: api\r\n" + header + b"\r\n"
    answer = await _raw_request(api, head)

    assert answer.startswith(b"HTTP/1.1 431 "), (what, answer[:200])
    problem = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert (problem["status"], problem["code"], problem["reason"]) == (
        431,
        "BAD_REQUEST",
        "HEADERS_TOO_LARGE",
    )
    assert problem["detail"] == "Request headers too large"
    async with api.client() as client:
        still_serving = await client.get("/health/live")
    assert still_serving.status_code == 200


async def test_a_head_just_under_16_kb_is_served(api: Api) -> None:
    head = b"GET /health/live HTTP/1.1\r\nHost: api\r\nX-Pad: " + b"b" * 15_000 + b"\r\n\r\n"
    answer = await _raw_request(api, head)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_websocket_message_over_64_kb_closes_the_socket_with_1009(
    api: Api, user: ApiUser, protocol: str
) -> None:
    token = user.headers["Authorization"].removeprefix("Bearer ")
    padding = "p" * 70_000
    async with connect(ws_url(api.base_url), subprotocols=[Subprotocol(protocol)]) as connection:
        message = {
            "type": "connection_init",
            "payload": {"Authorization": f"Bearer {token}", "pad": padding},
        }
        with contextlib.suppress(ConnectionClosed):
            await connection.send(json.dumps(message))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                await asyncio.wait_for(connection.recv(), deadline - time.monotonic())

    assert connection.close_code == 1009


async def test_a_websocket_message_under_the_limit_is_read(api: Api, user: ApiUser) -> None:
    token = user.headers["Authorization"].removeprefix("Bearer ")
    async with connect(
        ws_url(api.base_url), subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as connection:
        message = {
            "type": "connection_init",
            "payload": {"Authorization": f"Bearer {token}", "pad": "p" * 60_000},
        }
        await connection.send(json.dumps(message))
        ack = json.loads(await asyncio.wait_for(connection.recv(), 10))
    assert ack["type"] == "connection_ack"
