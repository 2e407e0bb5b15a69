"""Live order events end to end: two real API processes on the same servers, a real WebSocket GraphQL
client and a real SSE client. A change made through one process reaches subscribers on the other."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.live import (
    MY_ORDER_EVENTS,
    ORDER_EVENTS,
    GraphQLSocket,
    LiveUser,
    SseStream,
    new_order,
    new_staff,
    new_user,
    set_status,
    sse,
    token_expiring_in,
    wait_for_leases,
)
from tests.support.pipeline import BASE_REDIS_URL, app_env
from tests.support.problems import problem
from tests.support.processes import ManagedProcess, Processes

# Small, so that the limit, pings and heartbeats show within a test's deadlines.
LIMIT = 3
PING_SECONDS = 1
LIVE_ENV = {
    "OUTBOX_RELAY_ENABLED": "false",
    "LIVE_MAX_SUBSCRIPTIONS_PER_USER": str(LIMIT),
    "LIVE_PING_INTERVAL_SECONDS": str(PING_SECONDS),
}


@dataclass(frozen=True)
class TwoApis:
    a: str
    b: str
    processes: tuple[ManagedProcess, ManagedProcess]


@pytest.fixture(scope="module")
async def apis(database_url: str, key_dir: Path, redis_prefix: str) -> AsyncIterator[TwoApis]:
    """Two API processes sharing this run's PostgreSQL and Redis, for the module's tests."""
    started = Processes(
        app_env(database_url=database_url, key_dir=key_dir, redis_prefix=redis_prefix)
    )
    try:
        api_a, url_a = started.api("api-a", **LIVE_ENV)
        api_b, url_b = started.api("api-b", **LIVE_ENV)
        await started.ready(api_a, api_b)
        yield TwoApis(url_a, url_b, (api_a, api_b))
    finally:
        await started.stop_all()


@pytest.fixture
async def client_a(apis: TwoApis) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=apis.a, timeout=15) as client:
        yield client


@pytest.fixture
async def client_b(apis: TwoApis) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=apis.b, timeout=15) as client:
        yield client


async def test_a_change_through_one_process_reaches_a_subscriber_on_the_other_within_a_second(
    apis: TwoApis, client_a: httpx.AsyncClient, client_b: httpx.AsyncClient
) -> None:
    user = await new_user(client_a)
    order_id = await new_order(client_a, user)
    async with GraphQLSocket.open(apis.a, token=user.token) as socket:
        await socket.acknowledged()
        await socket.subscribe(ORDER_EVENTS, {"id": order_id, "after": 0})
        # The replay comes once the subscription listens: from then on nothing can slip past it.
        assert (await socket.next_data(within=5))["orderEvents"]["kind"] == "CREATED"

        changed_at = time.monotonic()
        await set_status(client_b, user, order_id, "PAID")
        event = (await socket.next_data(within=5))["orderEvents"]
        latency = time.monotonic() - changed_at

    assert event["orderId"] == order_id
    assert (event["seq"], event["kind"], event["status"], event["previousStatus"]) == (
        2,
        "STATUS_CHANGED",
        "PAID",
        "PENDING",
    )
    assert latency < 1.0, f"{latency:.3f}s"


async def test_another_users_order_never_streams(
    apis: TwoApis, client_a: httpx.AsyncClient, client_b: httpx.AsyncClient, redis_prefix: str
) -> None:
    owner, stranger = await new_user(client_a), await new_user(client_a)
    order_id = await new_order(client_a, owner)

    async with GraphQLSocket.open(apis.b, token=stranger.token) as socket:
        await socket.acknowledged()
        await socket.subscribe(ORDER_EVENTS, {"id": order_id, "after": 0}, operation_id="theirs")
        refused = await socket.receive(within=5)
        assert refused["type"] == "next"
        assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["NOT_FOUND"]
        assert refused["payload"]["data"] is None

        await socket.subscribe(MY_ORDER_EVENTS, operation_id="mine")
        await wait_for_leases(BASE_REDIS_URL, redis_prefix, stranger.id, 1)
        stranger_order = await new_order(client_a, stranger)
        await set_status(client_a, owner, order_id, "PAID")  # not theirs: never delivered
        await set_status(client_a, stranger, stranger_order, "PAID")
        first = await socket.receive(within=5)
        while first["type"] == "complete":  # the refused operation's end
            first = await socket.receive(within=5)
        # Their own order's creation, then its payment; the owner's change never in between.
        second = await socket.receive(within=5)

    seen = [m["payload"]["data"]["myOrderEvents"] for m in (first, second)]
    assert [(e["orderId"], e["kind"]) for e in seen] == [
        (stranger_order, "CREATED"),
        (stranger_order, "STATUS_CHANGED"),
    ]
    missing = await client_b.get(f"/orders/{order_id}/events/", headers=stranger.headers)
    problem(missing, 404, "NOT_FOUND", "ORDER_NOT_FOUND", detail="Order not found")


async def test_after_seq_replays_the_history_then_goes_live_without_gap_or_duplicate(
    apis: TwoApis, client_a: httpx.AsyncClient, client_b: httpx.AsyncClient
) -> None:
    user = await new_user(client_a)
    order_id = await new_order(client_a, user)
    await set_status(client_a, user, order_id, "PAID")

    async with GraphQLSocket.open(apis.a, token=user.token) as socket:
        await socket.acknowledged()
        # The next change races the replay: whichever wins, it arrives exactly once, in order.
        await asyncio.gather(
            socket.subscribe(ORDER_EVENTS, {"id": order_id, "after": 1}),
            set_status(client_b, user, order_id, "SHIPPED"),
        )
        events = [(await socket.next_data(within=5))["orderEvents"] for _ in range(2)]
        await socket.send({"type": "ping"})
        assert (await socket.receive(within=5, skip_pings=False))["type"] == "pong"  # nothing more

    assert [(e["seq"], e["status"]) for e in events] == [(2, "PAID"), (3, "SHIPPED")]


async def test_sse_resumes_after_last_event_id_and_keeps_the_stream_alive(
    client_a: httpx.AsyncClient, client_b: httpx.AsyncClient
) -> None:
    user = await new_user(client_a)
    order_id = await new_order(client_a, user)
    await set_status(client_a, user, order_id, "PAID")

    async with sse(client_a, order_id, {**user.headers, "Last-Event-ID": "1"}) as stream:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        replayed = await stream.next_event(within=5)
        await set_status(client_b, user, order_id, "SHIPPED")
        live = await stream.next_event(within=5)
        await asyncio.wait_for(_heartbeats(stream, 2), 10 * PING_SECONDS)

    assert (replayed.id, replayed.event) == ("2", "order")
    assert replayed.json() == {
        "seq": 2,
        "kind": "STATUS_CHANGED",
        "status": "PAID",
        "previous_status": "PENDING",
        "at": replayed.json()["at"],
        "actor": {"user_id": user.id, "role": "customer"},
        "note": None,
    }
    history = (await client_a.get(f"/orders/{order_id}/history/", headers=user.headers)).json()
    assert [replayed.json(), live.json()] == history[1:]
    assert live.id == "3"


async def _heartbeats(stream: SseStream, count: int) -> None:
    with pytest.raises(TimeoutError):
        await stream.ended(within=(count + 0.5) * PING_SECONDS)
    assert stream.comments.count(": ping") >= count, stream.comments


async def test_idle_sockets_are_pinged(apis: TwoApis, client_a: httpx.AsyncClient) -> None:
    user = await new_user(client_a)
    async with GraphQLSocket.open(apis.a, token=user.token) as socket:
        await socket.acknowledged()
        ping = await socket.receive(within=3 * PING_SECONDS, skip_pings=False)
    assert ping == {"type": "ping"}


async def test_without_a_valid_token_the_socket_closes_with_4401(
    apis: TwoApis, client_a: httpx.AsyncClient
) -> None:
    async with GraphQLSocket.open(apis.a, token=None) as anonymous:
        assert await anonymous.closed(within=5) == (4401, "Unauthorized")
    async with GraphQLSocket.open(apis.a, token="not-a-jwt") as forged:
        assert await forged.closed(within=5) == (4401, "Unauthorized")

    user = await new_user(client_a)
    async with GraphQLSocket.open(apis.a, token=user.token, in_header=True) as by_header:
        await by_header.acknowledged()


async def test_an_expiring_token_closes_the_socket_with_4401_and_ends_the_sse_stream(
    apis: TwoApis, client_a: httpx.AsyncClient, key_dir: Path
) -> None:
    user = await new_user(client_a)
    order_id = await new_order(client_a, user)
    short = LiveUser(id=user.id, token=token_expiring_in(key_dir, user_id=user.id, seconds=3))

    async with (
        GraphQLSocket.open(apis.a, token=short.token) as socket,
        sse(client_a, order_id, short.headers) as stream,
    ):
        await socket.acknowledged()
        await socket.subscribe(ORDER_EVENTS, {"id": order_id})
        assert await socket.closed(within=8) == (4401, "Token expired")
        assert await stream.ended(within=3 * PING_SECONDS)


async def test_the_subscription_limit_holds_across_processes(
    apis: TwoApis, client_a: httpx.AsyncClient, client_b: httpx.AsyncClient, redis_prefix: str
) -> None:
    user = await new_user(client_a)
    order_id = await new_order(client_a, user)
    async with GraphQLSocket.open(apis.a, token=user.token) as socket_a:
        await socket_a.acknowledged()
        for n in range(LIMIT - 1):
            await socket_a.subscribe(MY_ORDER_EVENTS, operation_id=f"a{n}")
        await wait_for_leases(BASE_REDIS_URL, redis_prefix, user.id, LIMIT - 1)
        async with sse(client_a, order_id, user.headers) as held:
            assert held.response.status_code == 200  # the LIMIT-th, on process A
            async with GraphQLSocket.open(apis.b, token=user.token) as socket_b:
                await socket_b.acknowledged()
                await socket_b.subscribe(MY_ORDER_EVENTS, operation_id="over")
                refused = await socket_b.receive(within=5)
                refused_sse = await client_b.get(
                    f"/orders/{order_id}/events/", headers=user.headers
                )
        # The SSE stream closed: one lease is free again, on any process.
        async with GraphQLSocket.open(apis.b, token=user.token) as socket_b:
            await socket_b.acknowledged()
            await socket_b.subscribe(MY_ORDER_EVENTS)
            await wait_for_leases(BASE_REDIS_URL, redis_prefix, user.id, LIMIT)
            await set_status(client_a, user, order_id, "PAID")
            admitted = (await socket_b.next_data(within=5))["myOrderEvents"]

    assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["RATE_LIMITED"]
    assert (
        "at most 3" in problem(refused_sse, 429, "RATE_LIMITED", "TOO_MANY_SUBSCRIPTIONS")["detail"]
    )
    assert admitted["status"] == "PAID"


async def test_the_older_graphql_ws_protocol_delivers_too(
    apis: TwoApis, client_a: httpx.AsyncClient, client_b: httpx.AsyncClient
) -> None:
    user = await new_user(client_a)
    order_id = await new_order(client_a, user)
    async with GraphQLSocket.open(apis.a, token=user.token, protocol="graphql-ws") as socket:
        await socket.acknowledged()
        await socket.send(
            {
                "id": "1",
                "type": "start",
                "payload": {"query": ORDER_EVENTS, "variables": {"id": order_id, "after": 0}},
            }
        )
        created = await socket.receive(within=5)
        await set_status(client_b, user, order_id, "CANCELED")
        canceled = await socket.receive(within=5)

    assert created["type"] == canceled["type"] == "data"
    assert created["payload"]["data"]["orderEvents"]["kind"] == "CREATED"
    assert canceled["payload"]["data"]["orderEvents"]["status"] == "CANCELED"


async def test_sigterm_closes_live_connections_with_1001(processes: Processes) -> None:
    api, base_url = processes.api("api-stopping", **LIVE_ENV)
    await processes.ready(api)
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        user = await new_user(client)
        order_id = await new_order(client, user)
        async with (
            GraphQLSocket.open(base_url, token=user.token) as socket,
            sse(client, order_id, user.headers) as stream,
        ):
            await socket.acknowledged()
            await socket.subscribe(ORDER_EVENTS, {"id": order_id})
            api.signal(signal.SIGTERM)
            assert await socket.closed(within=5) == (1001, "Server shutting down")
            assert await stream.ended(within=5)
    await api.wait_exit(within=10)


async def test_processed_arrives_after_the_worker_runs(
    processes: Processes, redis_prefix: str
) -> None:
    api, base_url = processes.api()
    consumer = processes.consumer()
    worker = processes.worker()
    await processes.ready(api, consumer, worker)
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        user = await new_user(client)
        async with GraphQLSocket.open(base_url, token=user.token) as socket:
            await socket.acknowledged()
            await socket.subscribe(MY_ORDER_EVENTS)
            await wait_for_leases(BASE_REDIS_URL, redis_prefix, user.id, 1)
            order_id = await new_order(client, user)
            created = (await socket.next_data(within=5))["myOrderEvents"]
            processed = (await socket.next_data(within=15))["myOrderEvents"]
            await worker.wait_for(f"^Order {order_id} processed$", within=1)
        history = (await client.get(f"/orders/{order_id}/history/", headers=user.headers)).json()

    assert (created["orderId"], created["seq"], created["kind"]) == (order_id, 1, "CREATED")
    assert (processed["orderId"], processed["seq"], processed["kind"]) == (
        order_id,
        2,
        "PROCESSED",
    )
    assert processed["status"] == "PENDING"
    assert [(e["seq"], e["kind"]) for e in history] == [(1, "CREATED"), (2, "PROCESSED")]


async def test_operations_over_the_socket_spend_the_callers_rate_limit(
    processes: Processes,
) -> None:
    api, base_url = processes.api(
        "api-limited", **LIVE_ENV, RATE_LIMIT_ENABLED="true", RATE_LIMIT_DEFAULT="3/minute"
    )
    await processes.ready(api)
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        user = await new_user(client)
        async with GraphQLSocket.open(base_url, token=user.token) as socket:
            await socket.acknowledged()
            for n in range(3):
                await socket.subscribe(MY_ORDER_EVENTS, operation_id=f"within-{n}")
            await socket.subscribe(MY_ORDER_EVENTS, operation_id="over")
            refused = await socket.receive(within=5)

    assert (refused["id"], refused["type"]) == ("over", "error")
    assert [e["extensions"]["code"] for e in refused["payload"]] == ["RATE_LIMITED"]


async def test_a_subscription_over_the_cost_limit_is_refused_before_it_subscribes(
    processes: Processes,
) -> None:
    api, base_url = processes.api("api-costly", **LIVE_ENV, GRAPHQL_MAX_COST="5")
    await processes.ready(api)
    costly = "subscription { myOrderEvents { seq order { history { seq } owner { email } } } }"
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        user = await new_user(client)
        async with GraphQLSocket.open(base_url, token=user.token) as socket:
            await socket.acknowledged()
            await socket.subscribe(costly)
            refused = await socket.receive(within=5)

    assert refused["type"] == "next"
    assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["QUERY_TOO_COMPLEX"]


async def test_staff_follow_any_order_and_its_owner_sees_the_staff_change_without_who(
    apis: TwoApis, client_a: httpx.AsyncClient, client_b: httpx.AsyncClient, database_url: str
) -> None:
    owner = await new_user(client_a)
    member = await new_staff(client_a, database_url)
    order_id = await new_order(client_a, owner)

    async with (
        sse(client_a, order_id, {**member.headers, "Last-Event-ID": "0"}) as by_staff,
        sse(client_b, order_id, {**owner.headers, "Last-Event-ID": "1"}) as by_owner,
    ):
        assert by_staff.response.status_code == 200
        created = await by_staff.next_event(within=5)
        paid = await client_b.patch(
            f"/orders/{order_id}/",
            json={"status": "PAID", "note": "paid by bank transfer"},
            headers=member.headers,
        )
        assert paid.status_code == 200, paid.text
        staff_view = await by_staff.next_event(within=5)
        owner_view = await by_owner.next_event(within=5)

    assert created.json()["actor"] == {"user_id": owner.id, "role": "customer"}
    assert staff_view.json()["actor"] == {"user_id": member.id, "role": "staff"}
    assert owner_view.json()["actor"] == {"role": "staff"}
    assert staff_view.json()["note"] == owner_view.json()["note"] == "paid by bank transfer"

    async with GraphQLSocket.open(apis.a, token=member.token) as socket:
        await socket.acknowledged()
        await socket.subscribe(ORDER_EVENTS, {"id": order_id, "after": 0})
        replayed = [(await socket.next_data(within=5))["orderEvents"] for _ in range(2)]
    assert [event["seq"] for event in replayed] == [1, 2]
