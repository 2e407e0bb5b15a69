"""Event-pipeline benchmark (not a test): `make bench-pipeline`, or `python -m bench.pipeline`.

Starts the real processes (API with its relay, consumer, worker) on a throwaway database, RabbitMQ
vhost and Redis stream, creates BENCH_ORDERS orders over HTTP (wrk, BENCH_CLIENTS connections) as fast as the API
takes them, and waits until the workers have processed all of them. Prints:
- how long the creation took, and how long until the last order was processed;
- the latency from the order's commit to its task's start, p50/p99/max, from PostgreSQL:
  processed_events.started_at − outbox_events.created_at. created_at is stamped just before the
  INSERT, so this overstates the commit→start time by the INSERT and COMMIT round trips (~1 ms).
Each task sleeps 2 s (the spec's work), so one worker finishes at most WORKER_CONCURRENCY / 2 tasks
a second: with the defaults the queue, not the pipeline, dominates the tail. BENCH_WORKERS and
WORKER_CONCURRENCY show the pipeline's own latency once capacity exceeds the arrival rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from yarl import URL

from bench.harness import SCENARIO_LUA, WRK_THREADS
from bench.stack import (
    DATABASE_URL,
    RABBITMQ_URL,
    REDIS_URL,
    ROOT,
    Process,
    delete_redis_keys,
    throwaway_backends,
)

# Beside bench/run.py's results (git-ignored).
LOGS = ROOT / "bench" / "results" / "pipeline"
ORDERS = int(os.environ.get("BENCH_ORDERS", "2000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
PASSWORD = "bench-password-1"


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def _process(name: str, args: list[str], env: dict[str, str]) -> Process:
    return Process(name, [sys.executable, *args], env, LOGS / f"{name}.log")


@contextlib.contextmanager
def stack(env: dict[str, str], port: int) -> Iterator[None]:
    api_args = ["-m", "api", "--port", str(port)]
    processes = [
        _process("api", [*api_args, "--no-access-log", "--log-level", "warning"], env),
        _process("consumer", ["-m", "consumer"], env),
        *(_process(f"worker-{n}", ["-m", "worker"], env) for n in range(1, WORKERS + 1)),
    ]
    try:
        processes[1].wait_for("consuming new_order")
        for worker in processes[2:]:
            worker.wait_for("Listening started")
        wait_http(f"http://127.0.0.1:{port}/openapi.json")
        yield
    finally:
        for process in processes:
            process.stop()


def wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    sys.exit(f"{url} never answered")


def create_orders(
    base_url: str, dsn: str, count: int = ORDERS, clients: int = CLIENTS
) -> tuple[float, float, int]:
    """Create at least `count` orders over `clients` connections as fast as the API takes them;
    (first request, last order's created_at) as wall-clock times, and how many were created (a
    few more than `count`: the requests in flight when it stops).

    Driven by wrk rather than a Python client: on two cores an asyncio HTTP client's ~3 ms of CPU
    per request would be the bench's own cost, taken from the pipeline it measures."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.post("/register/", json={"email": email, "password": PASSWORD}).raise_for_status()
        token = client.post("/token", data={"username": email, "password": PASSWORD})
        token.raise_for_status()
    threads = min(WRK_THREADS, clients)
    argv = [
        "wrk", f"-t{threads}", f"-c{clients}", "-d600s", "--timeout", "30s",
        "-s", str(SCENARIO_LUA), base_url, "--", "post-order", token.json()["access_token"],
    ]  # fmt: skip
    started = time.time()
    wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        asyncio.run(_created(dsn, email, at_least=count, wrk=wrk))
    finally:
        wrk.send_signal(signal.SIGINT)  # wrk stops and prints its summary
        output, _ = wrk.communicate(timeout=30)
    match = re.search(r"^WRK_JSON (\{.*\})$", output, re.MULTILINE)
    if match is None or json.loads(match.group(1))["errors"]:
        sys.exit(f"wrk saw errors creating the orders:\n{output}")
    created, last = asyncio.run(_created(dsn, email, settled=True))
    return started, last, created


async def _created(
    dsn: str,
    email: str,
    *,
    at_least: int = 0,
    settled: bool = False,
    wrk: subprocess.Popen[str] | None = None,
) -> tuple[int, float]:
    """The user's orders and the last one's created_at, once there are `at_least`, and (`settled`)
    once the count stops moving: the requests in flight when wrk stopped have been answered."""
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + 600
        previous = -1
        while True:
            created, last = await connection.fetchrow(
                "SELECT count(*), extract(epoch FROM max(o.created_at))::float8"
                " FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = $1",
                email,
            )
            if created >= at_least and (not settled or created == previous):
                return int(created), float(last)
            if (wrk is not None and wrk.poll() is not None) or time.monotonic() > deadline:
                sys.exit(f"only {created}/{at_least} orders created; logs in {LOGS}")
            previous = created
            # Polling PostgreSQL (with a deadline): there is nothing to wait on.
            await asyncio.sleep(0.2 if settled else 0.1)
    finally:
        await connection.close()


async def wait_processed(dsn: str, started: float, count: int) -> float:
    connection = await asyncpg.connect(dsn)
    try:
        last_report = 0.0
        while (done := await connection.fetchval("SELECT count(*) FROM processed_events")) < count:
            now = time.time()
            if now - last_report >= 5:
                print(f"  … {done}/{count} processed after {now - started:.1f} s", flush=True)
                last_report = now
            if now - started > 600:
                sys.exit(f"only {done}/{count} processed after 10 minutes; logs in {LOGS}")
            await asyncio.sleep(0.1)
        return time.time()
    finally:
        await connection.close()


async def latencies_ms(dsn: str) -> tuple[list[float], list[float]]:
    """(commit → task start, commit → confirmed by RabbitMQ), each sorted, in milliseconds."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT extract(epoch FROM p.started_at - o.created_at) * 1000 AS started,"
            " extract(epoch FROM o.published_at - o.created_at) * 1000 AS published"
            " FROM processed_events p JOIN outbox_events o ON o.id = p.event_id"
        )
        return (
            sorted(float(row["started"]) for row in rows),
            sorted(float(row["published"]) for row in rows),
        )
    finally:
        await connection.close()


def summary(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.5):.0f} ms, p99 {percentile(values, 0.99):.0f} ms, "
        f"max {values[-1]:.0f} ms, mean {statistics.fmean(values):.0f} ms"
    )


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, round(fraction * (len(values) - 1)))]


def main() -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    database = f"orders_bench_pipeline_{tag}"
    vhost = f"orders_bench_{tag}"
    database_url = make_url(DATABASE_URL).set(database=database).render_as_string(False)
    port = 18000 + int(tag[:3], 16) % 1000
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RABBITMQ_URL": str(URL(RABBITMQ_URL).with_path(f"/{vhost}")),
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"bench-{tag}:",
        "TASKIQ_STREAM": f"bench-{tag}:taskiq",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
    }
    concurrency = env.get("WORKER_CONCURRENCY", "100 (default)")
    print(
        f"pipeline bench: {ORDERS} orders, {CLIENTS} HTTP connections (wrk), "
        f"{WORKERS} worker(s) × {concurrency} concurrent tasks, {os.cpu_count()} cores",
        flush=True,
    )

    try:
        with throwaway_backends(database=database, vhost=vhost, env=env), stack(env, port):
            started, created, count = create_orders(
                f"http://127.0.0.1:{port}", plain_dsn(database_url)
            )
            print(
                f"  created {count} orders in {created - started:.2f} s "
                f"({count / (created - started):.0f}/s)",
                flush=True,
            )
            finished = asyncio.run(wait_processed(plain_dsn(database_url), started, count))
            started_ms, published_ms = asyncio.run(latencies_ms(plain_dsn(database_url)))
        print(f"  all {count} processed {finished - started:.2f} s after the first request")
        print(f"  commit → task start:           {summary(started_ms)}")
        print(f"  commit → published (confirmed): {summary(published_ms)}")
        print(f"  logs: {LOGS}")
    finally:
        # The cache, the rate-limit counters and the taskiq streams of this run.
        asyncio.run(delete_redis_keys(f"bench-{tag}:"))


if __name__ == "__main__":
    main()
