"""9. Webhooks: deliveries/s to a fast local receiver, and commit→delivery at 100 order events/s with
a hanging endpoint beside (`python -m bench.webhooks` alone, or within `make bench`).

9a: BENCH_WEBHOOK_EVENTS (5,000) order events are in the `webhooks` queue (orders written straight
into the database, their CREATED events published by the relay) before one `webhooks` process starts
with the API idle; the rate is the receiver's, first delivery to last, each one signed and answered 204.
9b: the API (with its relay) and one `webhooks` process; one endpoint on a fast receiver, one on a
receiver that accepts and never answers. Orders are created over HTTP at 100/s for
BENCH_WEBHOOK_SECONDS (20); for each delivery to the fast endpoint, the receiver's arrival time minus
the event's own timestamp (taken before the commit): commit→delivery, a little more than it.
Both receivers listen on 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE_TARGETS=true for this run only).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from yarl import URL

from bench.harness import RESULTS, api_server, free_port, login
from bench.relay import _publish_all
from bench.stack import PG_ADMIN, RABBITMQ_URL, Process, throwaway_backends

EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "5000"))
SECONDS = float(os.environ.get("BENCH_WEBHOOK_SECONDS", "20"))
RATE = 100.0


def _receiver(mode: str, env: dict[str, str]) -> tuple[Process, str, Path]:
    port = free_port()
    log = RESULTS / f"webhook-receiver-{mode}-{port}.log"
    log.unlink(missing_ok=True)
    log.touch()
    process = Process(
        f"receiver-{mode}",
        [sys.executable, "-m", "bench.webhook_receiver", str(port), mode, str(log)],
        env,
        RESULTS / f"receiver-{mode}.log",
    )
    _ready(process, "receiving")
    return process, f"http://127.0.0.1:{port}/hooks", log


def _arrivals(log: Path) -> list[tuple[float, str]]:
    found = []
    for line in log.read_text().splitlines():
        arrived, stamp = line.split(" ", 1)
        found.append((float(arrived), stamp))
    return found


async def _add_endpoint(dsn: str, url: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO webhook_endpoints (id, url, events, description, enabled, secret,"
            " consecutive_failures, created_at, updated_at)"
            " VALUES ($1, $2, ARRAY['order.created'], 'bench', true, $3, 0, now(), now())",
            uuid.uuid4(),
            url,
            "whsec_" + "A" * 43 + "=",
        )
    finally:
        await connection.close()


async def _seed_events(dsn: str, count: int) -> None:
    """`count` orders and their CREATED events (the trigger writes their outbox rows)."""
    connection = await asyncpg.connect(dsn)
    try:
        user_id = await connection.fetchval(
            "INSERT INTO users (email, password_hash, created_at)"
            " VALUES ($1, 'x', now()) RETURNING id",
            f"webhooks-{uuid.uuid4().hex[:8]}@example.com",
        )
        await connection.execute(
            """
            WITH made AS (
                INSERT INTO orders (id, user_id, items, total_price, status, created_at,
                                    updated_at, version)
                SELECT gen_random_uuid(), $1,
                       '[{"product_id": "sku-1", "name": "Mug", "quantity": 2, "price": "5.50"}]',
                       11.00, 'PENDING', now(), now(), 1
                FROM generate_series(1, $2)
                RETURNING id, created_at
            )
            INSERT INTO order_events (order_id, seq, kind, status, at)
            SELECT id, 1, 'CREATED', 'PENDING', created_at FROM made
            """,
            user_id,
            count,
        )
    finally:
        await connection.close()


async def _count_succeeded(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
            )
        )
    finally:
        await connection.close()


def _dispatcher(env: dict[str, str], name: str) -> Process:
    # INFO: its "consuming" line says it is ready (the run's level is WARNING).
    env = {**env, "LOG_LEVEL": "INFO"}
    process = Process(name, [sys.executable, "-m", "dispatcher"], env, RESULTS / f"{name}.log")
    _ready(process, "consuming webhooks")
    return process


def _ready(process: Process, text: str) -> None:
    """`wait_for`, and the process stopped if it never got there (it must not outlive the run)."""
    try:
        process.wait_for(text)
    except SystemExit:
        process.stop()
        raise


def deliveries_per_second(env: dict[str, str], dsn: str) -> dict[str, str]:
    receiver, url, log = _receiver("fast", env)
    try:
        asyncio.run(_add_endpoint(dsn, url))
        asyncio.run(_seed_events(dsn, EVENTS))
        asyncio.run(_publish_all(env["DATABASE_URL"], env["RABBITMQ_URL"], dsn))
        dispatcher = _dispatcher(env, "webhooks-9a")
        try:
            deadline = time.monotonic() + 600
            while asyncio.run(_count_succeeded(dsn)) < EVENTS:
                if time.monotonic() > deadline:
                    sys.exit("9a: deliveries not done within 10 minutes")
                time.sleep(0.5)
        finally:
            dispatcher.stop()
        time.sleep(0.5)  # the receiver writes its log every 0.2 s
        arrivals = sorted(arrived for arrived, _ in _arrivals(log))
    finally:
        receiver.stop()
    seconds = arrivals[-1] - arrivals[0]
    return {
        f"9a. webhooks: {len(arrivals):,} deliveries to a fast local receiver (backlog, API idle)": (
            f"{seconds:.1f} s ({len(arrivals) / seconds:,.0f} deliveries/s)"
        )
    }


async def _create_orders(base: str, token: str, seconds: float) -> int:
    made = 0
    # No pool limit and a long timeout: a slow API shows as latency, not as the client's errors.
    async with httpx.AsyncClient(
        base_url=base,
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=200),
    ) as client:
        started = time.monotonic()
        tasks = []
        for n in range(int(seconds * RATE)):
            # Open loop: one order every 1/RATE s, whatever the answers' latency.
            delay = started + n / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(
                asyncio.create_task(
                    client.post(
                        "/orders/",
                        json={"items": [{"product_id": "sku-1", "quantity": 1, "price": "1.00"}]},
                    )
                )
            )
        for response in await asyncio.gather(*tasks, return_exceptions=True):
            made += isinstance(response, httpx.Response) and response.status_code == 201
    return made


def latency_beside_a_hanging_endpoint(env: dict[str, str], dsn: str, tag: str) -> dict[str, str]:
    fast, fast_url, fast_log = _receiver("fast", env)
    hanging, hanging_url, _ = _receiver("hang", env)
    try:
        asyncio.run(_add_endpoint(dsn, fast_url))
        asyncio.run(_add_endpoint(dsn, hanging_url))
        with api_server(env, "api-webhooks") as base:
            dispatcher = _dispatcher(env, "webhooks-9b")
            try:
                _, token = login(base, f"webhooks-{tag}@example.com")
                made = asyncio.run(_create_orders(base, token, SECONDS))
                deadline = time.monotonic() + 120
                while len(_arrivals(fast_log)) < made and time.monotonic() < deadline:
                    time.sleep(0.5)
            finally:
                dispatcher.stop()
    finally:
        fast.stop()
        hanging.stop()
    if not _arrivals(fast_log):
        return {"9b. webhooks: commit→delivery at 100 orders/s": f"nothing delivered ({made} made)"}
    latencies = sorted(
        arrived - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        for arrived, stamp in _arrivals(fast_log)
        if stamp != "-"
    )
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        f"9b. webhooks: commit→delivery at {RATE:.0f} orders/s for {SECONDS:.0f} s, a hanging "
        "endpoint beside": (
            f"p50 {1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms, max {1000 * latencies[-1]:.0f} ms"
            f" ({len(latencies):,} of {made:,} delivered)"
        )
    }


def webhook_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true", "OUTBOX_RELAY_ENABLED": "true"}


def webhooks_scenario(env: dict[str, str], dsn: str, tag: str) -> dict[str, str]:
    """Both rows; the database must have no other webhook endpoint or backlog."""
    env = webhook_env(env)
    rows = deliveries_per_second(env, dsn)
    print(rows, flush=True)  # kept if the next row fails
    asyncio.run(_reset(dsn))
    rows.update(latency_beside_a_hanging_endpoint(env, dsn, tag))
    return rows


async def _reset(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("TRUNCATE webhook_endpoints, webhook_order_cursors CASCADE")
    finally:
        await connection.close()


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    database, vhost = f"orders_bench_{tag}", f"orders_bench_{tag}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OTEL_")},
        "DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://"),
        "REDIS_KEY_PREFIX": f"orders-bench-{tag}:",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "RABBITMQ_URL": str(URL(RABBITMQ_URL).with_path(f"/{vhost}")),
        "TASKIQ_STREAM": f"orders-bench-{tag}:taskiq",
        "LOG_FORMAT": "text",
    }
    with throwaway_backends(database=database, vhost=vhost, env=env):
        rows = webhooks_scenario(env, dsn, tag)
    for name, value in rows.items():
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
