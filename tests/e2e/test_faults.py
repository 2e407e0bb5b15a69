"""Faults with real processes and real servers: PostgreSQL, Redis or RabbitMQ goes away (a cut TCP
proxy in front of it, or the broker closing every connection) and comes back. Orders are answered
as documented meanwhile, nothing accepted is lost or processed twice, and nothing needs a restart.

Already covered elsewhere, so not repeated here: RabbitMQ away for the API's relay only
(tests/e2e/test_pipeline.py), Redis away for the consumer alone (tests/consumer), PostgreSQL away for
the worker (tests/worker) and for in-process GraphQL (tests/graph/test_outages.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from tests.e2e.test_pipeline import pending_outbox_count
from tests.support.pipeline import create_orders
from tests.support.problems import problem
from tests.support.processes import ManagedProcess, Processes
from tests.support.rabbitmq import close_all_connections
from tests.support.tcp_proxy import TcpProxy

# DATABASE_TIMEOUT_SECONDS (2 s by default), and the margin of a loaded 2-core machine.
TIMEOUT = 2.0
MARGIN = 1.0


def _through(url: str, proxy: TcpProxy) -> str:
    return str(URL(url).with_port(proxy.port))


async def _user(client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    email = f"faults-{uuid.uuid4().hex[:8]}@example.com"
    registered = await client.post(
        "/register/", json={"email": email, "password": "pw-s3cret-9412"}
    )
    token = await client.post("/token", data={"username": email, "password": "pw-s3cret-9412"})
    return registered.json()["id"], {"Authorization": f"Bearer {token.json()['access_token']}"}


async def _timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


async def _processed_once(
    workers: list[ManagedProcess], order_ids: list[str], within: float
) -> None:
    for order_id in order_ids:
        pattern = f"^Order {order_id} processed$"
        await workers[0].wait_for_any(pattern, others=workers[1:], within=within)
    for order_id in order_ids:
        pattern = f"^Order {order_id} processed$"
        assert sum(worker.count(pattern) for worker in workers) == 1, order_id


async def test_postgresql_unreachable_is_503_within_the_timeout_and_recovers_by_itself(
    processes: Processes,
) -> None:
    postgres = TcpProxy("127.0.0.1", 5432)
    await postgres.start()
    api, base_url = processes.api(DATABASE_URL=_through(processes.env["DATABASE_URL"], postgres))
    await processes.ready(api)
    order = {"items": [{"product_id": "sku-1", "quantity": 1, "price": "1.00"}]}
    graphql = {"query": "query($u: Int!) { orders(userId: $u) { id } }"}
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            user_id, headers = await _user(client)

            async def every_interface() -> list[tuple[httpx.Response, float]]:
                return [
                    await _timed(client.get(f"/orders/user/{user_id}/", headers=headers)),
                    await _timed(client.post("/orders/", json=order, headers=headers)),
                    await _timed(
                        client.post(
                            "/graphql",
                            json={**graphql, "variables": {"u": user_id}},
                            headers=headers,
                        )
                    ),
                ]

            async def recovered() -> None:
                deadline = time.monotonic() + 5
                while (
                    await client.post("/orders/", json=order, headers=headers)
                ).status_code != 201:
                    assert time.monotonic() < deadline, api.output()
                    await asyncio.sleep(0.1)

            # Down: connections refused, open ones dropped. Answered at once.
            await postgres.stop()
            refused = await every_interface()
            await postgres.start()
            await recovered()

            # Hung: connections accepted, nothing answered. A request on a pooled connection waits
            # the statement timeout (then that connection is closed, up to as long again); new
            # connections wait the connect timeout.
            postgres.blackhole()
            hung_first = await every_interface()
            hung_next = await every_interface()
            postgres.blackhole(False)
            await recovered()
    finally:
        await postgres.stop()

    for (rest_list, _), (rest_create, _), (gql, _) in (
        refused,
        hung_first,
        hung_next,
    ):
        for rest in (rest_list, rest_create):
            body = problem(rest, 503, "SERVICE_UNAVAILABLE", "DATABASE_UNAVAILABLE")
            assert body["detail"] == "The database is unavailable; try again shortly"
            assert body["retry_after"] == 2
        assert rest_list.headers["Retry-After"] == "2"
        [gql_error] = gql.json()["errors"]
        assert gql_error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert gql_error["extensions"]["reason"] == "DATABASE_UNAVAILABLE"
        assert "Traceback" not in rest_list.text + rest_create.text + gql.text
    assert max(elapsed for _, elapsed in refused) < MARGIN
    assert max(elapsed for _, elapsed in hung_first) < 2 * TIMEOUT + MARGIN
    assert max(elapsed for _, elapsed in hung_next) < TIMEOUT + MARGIN


async def test_redis_unreachable_orders_are_accepted_and_processed_once_it_returns(
    processes: Processes, db_engine: AsyncEngine
) -> None:
    redis = TcpProxy("127.0.0.1", 6379)
    await redis.start()
    redis_url = _through(processes.env["REDIS_URL"], redis)
    api, base_url = processes.api(REDIS_URL=redis_url)
    consumer = processes.consumer(REDIS_URL=redis_url)
    worker = processes.worker(REDIS_URL=redis_url)
    await processes.ready(api, consumer, worker)
    try:
        before = [order_id for order_id, _ in await create_orders(base_url, 3)]
        await _processed_once([worker], before, within=10)

        await redis.stop()  # the cache, the limits, the task stream: all gone
        during = [order_id for order_id, _ in await create_orders(base_url, 5)]  # still 201
        await consumer.wait_for("enqueue failed", within=10)
        # Every event leaves the outbox (RabbitMQ has it, the consumer holds it), none is processed.
        deadline = time.monotonic() + 10
        while await pending_outbox_count(db_engine, during):
            assert time.monotonic() < deadline, api.output()
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        assert not any(worker.count(f"^Order {order_id} processed$") for order_id in during)

        await redis.start()
        await _processed_once([worker], during, within=20)
    finally:
        await redis.stop()


async def test_rabbitmq_unreachable_for_everyone_then_back_delivers_every_order_once(
    processes: Processes, db_engine: AsyncEngine
) -> None:
    rabbitmq = TcpProxy("127.0.0.1", 5672)
    await rabbitmq.start()
    amqp_url = _through(processes.env["RABBITMQ_URL"], rabbitmq)
    api, base_url = processes.api(RABBITMQ_URL=amqp_url)
    consumer = processes.consumer(RABBITMQ_URL=amqp_url)
    worker = processes.worker()
    await processes.ready(api, consumer, worker)
    await api.wait_for("relay connected to RabbitMQ", within=10)
    try:
        await rabbitmq.stop()  # the relay's and the consumer's connections dropped
        during = [order_id for order_id, _ in await create_orders(base_url, 5)]  # still 201
        await api.wait_for("publishing paused", within=10)
        assert await pending_outbox_count(db_engine, during) == 5

        await rabbitmq.start()  # same port: both robust connections find it again
        await _processed_once([worker], during, within=20)
        assert await pending_outbox_count(db_engine, during) == 0
        after = [order_id for order_id, _ in await create_orders(base_url, 3)]
        await _processed_once([worker], after, within=10)
    finally:
        await rabbitmq.stop()
    assert consumer.popen.poll() is None  # never restarted


async def test_the_broker_closing_every_connection_is_survived_without_restart(
    processes: Processes, db_engine: AsyncEngine
) -> None:
    api, base_url = processes.api()
    consumer = processes.consumer()
    worker = processes.worker()
    await processes.ready(api, consumer, worker)
    await api.wait_for("relay connected to RabbitMQ", within=10)
    before = [order_id for order_id, _ in await create_orders(base_url, 3)]

    # What the API and the consumer see when RabbitMQ restarts: the broker closes their connections.
    await close_all_connections(processes.env["RABBITMQ_URL"])
    during = [order_id for order_id, _ in await create_orders(base_url, 3)]
    await asyncio.sleep(2)  # the robust connections reconnect on their own
    after = [order_id for order_id, _ in await create_orders(base_url, 3)]

    await _processed_once([worker], before + during + after, within=20)
    assert await pending_outbox_count(db_engine, before + during + after) == 0
    assert api.popen.poll() is None
    assert consumer.popen.poll() is None
    async with db_engine.connect() as connection:
        processed = await connection.scalar(
            text(
                "SELECT count(*) FROM processed_events p JOIN outbox_events o ON o.id = p.event_id"
                " WHERE o.payload->>'order_id' = ANY(:ids)"
            ),
            {"ids": before + during + after},
        )
    assert processed == 9
