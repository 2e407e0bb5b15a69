"""The clients of a clustered deployment, against the local servers (docs/ha.md): a list of RabbitMQ
nodes of which one dies for good, Redis found through a Sentinel, PostgreSQL through a multi-host URL
whose first host is dead, and the reconciler that publishes again an order whose task was lost.

The nodes of a "cluster" here are TCP proxies in front of the one local server: what the clients
must do (move to the next address, ask the Sentinel) is the same; the servers' own replication is
proven by `make ha-test` (deploy/ha/).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from tests.e2e.test_faults import _processed_once
from tests.support.pipeline import BASE_REDIS_URL, create_orders
from tests.support.processes import Processes, free_port
from tests.support.tcp_proxy import TcpProxy


async def _proxy(port: int) -> TcpProxy:
    proxy = TcpProxy("127.0.0.1", port)
    await proxy.start()
    return proxy


async def test_the_relay_and_the_consumer_move_to_the_next_rabbitmq_node_when_theirs_dies(
    processes: Processes,
) -> None:
    first, second = await _proxy(5672), await _proxy(5672)
    vhost_url = URL(processes.env["RABBITMQ_URL"])
    nodes = ",".join(str(vhost_url.with_port(node.port)) for node in (first, second))
    try:
        api, base_url = processes.api(RABBITMQ_URLS=nodes)
        consumer = processes.consumer(RABBITMQ_URLS=nodes)
        worker = processes.worker()
        await processes.ready(api, consumer, worker)
        await api.wait_for("relay connected to RabbitMQ", within=10)
        before = [order_id for order_id, _ in await create_orders(base_url, 3)]
        await _processed_once([worker], before, within=20)

        await first.stop()  # the first node dies and never comes back
        after = [order_id for order_id, _ in await create_orders(base_url, 5)]
        await _processed_once([worker], after, within=30)
        # One line when the node is lost, one when another took over; none per attempt.
        for process in (api, consumer):
            assert process.count("RabbitMQ: connection lost") == 1, process.output()
            assert process.count("RabbitMQ: connected again") == 1, process.output()
            assert not process.count("Connection attempt to")
        assert consumer.popen.poll() is None  # moved by itself, never restarted
    finally:
        await first.stop()
        await second.stop()


@contextlib.asynccontextmanager
async def _sentinel(tmp_path: Path, master: str) -> AsyncIterator[int]:
    """A Sentinel (the local redis-server in sentinel mode) monitoring the local Redis as `master`."""
    redis = URL(BASE_REDIS_URL)
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndaemonize no\nsentinel resolve-hostnames yes\n"
        f"sentinel monitor {master} {redis.host} {redis.port or 6379} 1\n"
    )
    process = await asyncio.create_subprocess_exec(
        "redis-server",
        str(config),
        "--sentinel",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    client = Redis(host="127.0.0.1", port=port)
    try:
        async with asyncio.timeout(10):
            while True:
                with contextlib.suppress(RedisError):
                    if await client.sentinel_masters():
                        break
                await asyncio.sleep(0.05)
        yield port
    finally:
        await client.aclose()
        process.terminate()
        await process.wait()


async def test_every_process_finds_the_redis_primary_through_sentinel(
    processes: Processes, tmp_path: Path
) -> None:
    master = f"orders-test-{uuid.uuid4().hex[:6]}"
    async with _sentinel(tmp_path, master) as port:
        # REDIS_URL names a node that does not exist: only the Sentinel can lead them to Redis.
        through_sentinel = {
            "REDIS_SENTINELS": f"127.0.0.1:{port}",
            "REDIS_SENTINEL_MASTER": master,
            "REDIS_URL": "redis://127.0.0.1:1/0",
        }
        api, base_url = processes.api(**through_sentinel)
        consumer = processes.consumer(**through_sentinel)
        worker = processes.worker(**through_sentinel)
        await processes.ready(api, consumer, worker)
        orders = [order_id for order_id, _ in await create_orders(base_url, 3)]
        await _processed_once([worker], orders, within=20)
        assert not consumer.count("enqueue failed")


async def test_a_multi_host_database_url_skips_a_dead_host(
    processes: Processes, db_engine: AsyncEngine
) -> None:
    database = make_url(processes.env["DATABASE_URL"])
    dead = free_port()  # nothing listens there
    multi_host = database.set(host=None, port=None).update_query_pairs(
        [
            ("host", f"127.0.0.1:{dead}"),
            ("host", f"{database.host}:{database.port or 5432}"),
            ("target_session_attrs", "read-write"),
        ]
    )
    url = multi_host.render_as_string(hide_password=False)
    api, base_url = processes.api(DATABASE_URL=url)
    worker = processes.worker(DATABASE_URL=url)
    consumer = processes.consumer()
    await processes.ready(api, consumer, worker)
    await api.wait_for("relay connected to RabbitMQ", within=10)
    orders = [order_id for order_id, _ in await create_orders(base_url, 3)]
    # The relay's LISTEN connection (asyncpg DSN) and the worker's engine (psycopg) found it too.
    await _processed_once([worker], orders, within=20)
    async with db_engine.connect() as connection:
        listening = await connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
            )
        )
        assert listening.scalar_one() >= 1


async def test_an_order_whose_task_was_lost_is_published_again_and_processed_once(
    processes: Processes,
) -> None:
    # The worker is not started yet: the consumer's task waits in the Redis stream.
    api, base_url = processes.api(PROCESSING_DEADLINE_SECONDS="2")
    consumer = processes.consumer()
    await processes.ready(api, consumer)
    [(order_id, _)] = await create_orders(base_url, 1)
    await consumer.wait_for(f"order {order_id}: task enqueued", within=20)
    # The Redis primary dies before its replica had the task: the stream loses it.
    stream = processes.env["TASKIQ_STREAM"]
    redis = Redis.from_url(BASE_REDIS_URL)
    try:
        assert await redis.delete(stream) == 1
    finally:
        await redis.aclose()

    await api.wait_for("published again", within=20)
    worker = processes.worker()
    await processes.ready(worker)
    await _processed_once([worker], [order_id], within=30)
