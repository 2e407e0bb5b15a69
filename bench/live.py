"""Live-updates benchmark (a `make bench` scenario; alone: `python -m bench.live`).

One API process (one uvicorn worker) with BENCH_SUBSCRIBERS (1,000) GraphQL subscriptions open at
once, over as many WebSockets (`graphql-transport-ws`, `myOrderEvents` of one user, whose limit is
raised for the run). Measured:
- fan-out latency: BENCH_LIVE_ROUNDS times, a status change (PATCH over REST, on the same process)
  and the time from sending the PATCH until each subscriber has received its event; p50/p99/max
  over every (round, subscriber), target p99 ≤ 500 ms;
- memory per idle subscriber: the API process's resident memory (VmRSS) with every subscriber
  connected and idle, minus before the first connected, divided by their number (goal ≤ 100 KB).
The subscribers run in this process (asyncio, `websockets`), on the same 2 cores as the server: the
latency includes their share of the CPU, so it overstates what remote clients would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol
from yarl import URL

from bench.stack import (
    DATABASE_URL,
    RABBITMQ_URL,
    REDIS_URL,
    ROOT,
    Process,
    delete_redis_keys,
    throwaway_backends,
)

LOGS = ROOT / "bench" / "results" / "live"
SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
ROUNDS = int(os.environ.get("BENCH_LIVE_ROUNDS", "5"))
PASSWORD = "bench-password-1"
SUBSCRIPTION = "subscription { myOrderEvents { orderId seq kind status } }"
TARGET_P99_MS = 500
GOAL_KB_PER_SUBSCRIBER = 100


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    msg = f"no VmRSS for {pid}"
    raise RuntimeError(msg)


@contextlib.contextmanager
def api_process(env: dict[str, str], port: int) -> Iterator[Process]:
    # As the Procfile runs it (`python -m api`: no per-message compression, which costs ~45 KB per
    # socket; httptools with the request-head limit).
    argv = [
        sys.executable, "-m", "api",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        "--loop", "uvloop", "--log-level", "warning",
    ]  # fmt: skip
    LOGS.mkdir(parents=True, exist_ok=True)
    process = Process("api-live", argv, env, LOGS / "api-live.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or process.popen.poll() is not None:
                sys.exit(f"the API did not start; see {process.log_path}")
            time.sleep(0.2)
        yield process
    finally:
        process.stop()


async def _subscriber(url: str, token: str) -> ClientConnection:
    connection = await connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=60, ping_interval=None
    )
    await connection.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await connection.recv())
    assert ack["type"] == "connection_ack", ack
    await connection.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
    )
    return connection


async def _receive_change(connection: ClientConnection, order_id: str, seq: int) -> float:
    """When this subscriber received the event (`order_id`, `seq`), as time.monotonic()."""
    while True:
        message = json.loads(await connection.recv())
        if message["type"] == "ping":
            await connection.send(json.dumps({"type": "pong"}))
            continue
        event = message["payload"]["data"]["myOrderEvents"]
        if (event["orderId"], event["seq"]) == (order_id, seq):
            return time.monotonic()


async def _held(redis: Redis, key: str, count: int, within: float) -> None:
    deadline = time.monotonic() + within
    while await redis.zcard(key) < count:
        if time.monotonic() > deadline:
            msg = f"only {await redis.zcard(key)} of {count} subscriptions live"
            raise RuntimeError(msg)
        await asyncio.sleep(0.1)


async def _run(base: str, pid: int, key_prefix: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        email = f"live-{uuid.uuid4().hex[:8]}@example.com"
        user = await client.post("/register/", json={"email": email, "password": PASSWORD})
        user.raise_for_status()
        token_response = await client.post("/token", data={"username": email, "password": PASSWORD})
        token = str(token_response.json()["access_token"])
        headers = {"Authorization": f"Bearer {token}"}
        order_ids = []
        for _ in range(ROUNDS):
            created = await client.post(
                "/orders/",
                json={"items": [{"product_id": "sku-1", "quantity": 1, "price": "3.00"}]},
                headers=headers,
            )
            order_ids.append(str(created.json()["id"]))
        # Warm: the first requests and subscriptions build what later ones reuse.
        await client.get(f"/orders/{order_ids[0]}/", headers=headers)
        rss_before = _rss_kb(pid)

        url = base.replace("http://", "ws://") + "/graphql"
        connections: list[ClientConnection] = []
        redis = Redis.from_url(REDIS_URL)
        try:
            for start in range(0, SUBSCRIBERS, 100):
                batch = min(100, SUBSCRIBERS - start)
                connections += await asyncio.gather(
                    *(_subscriber(url, token) for _ in range(batch))
                )
            await _held(redis, f"{key_prefix}live:leases:{user.json()['id']}", SUBSCRIBERS, 120)
            await asyncio.sleep(2)  # let allocations settle before reading the idle footprint
            rss_idle = _rss_kb(pid)

            latencies_ms: list[float] = []
            for order_id in order_ids:
                waiting = [
                    asyncio.create_task(_receive_change(connection, order_id, 2))
                    for connection in connections
                ]
                sent = time.monotonic()
                changed = await client.patch(
                    f"/orders/{order_id}/", json={"status": "PAID"}, headers=headers
                )
                changed.raise_for_status()
                received = await asyncio.wait_for(asyncio.gather(*waiting), 60)
                latencies_ms += [(at - sent) * 1000 for at in received]
        finally:
            await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
            await redis.aclose()

    latencies_ms.sort()
    p99 = latencies_ms[int(0.99 * (len(latencies_ms) - 1))]
    per_subscriber_kb = (rss_idle - rss_before) / SUBSCRIBERS
    return {
        f"live: {SUBSCRIBERS} subscribers, status change → every subscriber (p50 / p99 / max)": (
            f"{statistics.median(latencies_ms):.0f} / {p99:.0f} / {latencies_ms[-1]:.0f} ms "
            f"over {ROUNDS} changes (target p99 ≤ {TARGET_P99_MS} ms: "
            f"{'met' if p99 <= TARGET_P99_MS else 'MISSED'})"
        ),
        "live: memory per idle subscriber (API RSS delta / subscribers)": (
            f"{per_subscriber_kb:.0f} KB ({rss_before / 1024:.0f} → {rss_idle / 1024:.0f} MB; "
            f"goal ≤ {GOAL_KB_PER_SUBSCRIBER} KB: "
            f"{'met' if per_subscriber_kb <= GOAL_KB_PER_SUBSCRIBER else 'MISSED'})"
        ),
    }


def live_scenario(env: dict[str, str], port: int) -> dict[str, object]:
    """The scenario on the run's backends (`env`): its results by name."""
    live_env = {
        **env,
        "OUTBOX_RELAY_ENABLED": "false",
        "LIVE_MAX_SUBSCRIPTIONS_PER_USER": str(SUBSCRIBERS),
        # Every subscriber connects from 127.0.0.1: one address, as no real client is.
        "LIVE_MAX_CONNECTIONS_PER_ADDRESS": str(SUBSCRIBERS),
    }
    with api_process(live_env, port) as process:
        results = asyncio.run(
            _run(f"http://127.0.0.1:{port}", process.popen.pid, env["REDIS_KEY_PREFIX"])
        )
    for name, value in results.items():
        print(f"  {name}: {value}", flush=True)
    return results


def main() -> None:
    tag = uuid.uuid4().hex[:8]
    database, vhost = f"orders_bench_live_{tag}", f"orders_bench_{tag}"
    env: dict[str, Any] = {
        **os.environ,
        "DATABASE_URL": make_url(DATABASE_URL).set(database=database).render_as_string(False),
        "RABBITMQ_URL": str(URL(RABBITMQ_URL).with_path(f"/{vhost}")),
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"bench-{tag}:",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
    }
    print(f"live bench: {SUBSCRIBERS} subscribers, {ROUNDS} changes, {os.cpu_count()} cores")
    try:
        with throwaway_backends(database=database, vhost=vhost, env=env):
            live_scenario(env, 18000 + int(tag[:3], 16) % 1000)
    finally:
        asyncio.run(delete_redis_keys(f"bench-{tag}:"))


if __name__ == "__main__":
    main()
