"""`make bench`: load-test the real stack natively and report every figure against a same-run baseline.

Starts a bare FastAPI app (B1) and then the API (with consumer and worker when the pipeline exists) on
the production server settings, against the local PostgreSQL, Redis and RabbitMQ — on a throwaway
database, Redis key prefix and RabbitMQ vhost, with rate limits off unless a scenario says otherwise.
wrk (Debian) drives each scenario from its own process: warm-up, then a fixed measured duration at
concurrency 64. Results: a Markdown table on stdout and in bench/results/, with a JSON twin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from graphql import parse as graphql_parse
from yarl import URL

from bench import chart
from bench.live import live_scenario
from bench.pipeline import ORDERS as BURST_ORDERS
from bench.pipeline import create_orders
from bench.relay import empty_outbox, relay_scenario
from bench.stack import (
    PG_ADMIN,
    RABBITMQ_URL,
    ROOT,
    Process,
    create_database,
    delete_redis_keys,
    drop_database,
    rabbitmqctl,
    throwaway_backends,
)
from domain.orders.pagination import encode_cursor
from graph import cost
from graph.schema import create_schema
from graph.settings import GraphQLSettings

RESULTS = ROOT / "bench" / "results"
SCENARIO_LUA = ROOT / "bench" / "wrk" / "scenario.lua"
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
WRK_THREADS = 2
API_WORKERS = int(os.environ.get("BENCH_API_WORKERS", "2"))
DEEP_ORDERS = int(os.environ.get("BENCH_DEEP_ORDERS", "100000"))
PATCH_ORDERS = int(os.environ.get("BENCH_PATCH_ORDERS", "60000"))

WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "400"))
IDLE_ORDERS = int(os.environ.get("BENCH_IDLE_ORDERS", "50"))
PASSWORD = "bench-password-1"


@dataclass
class Result:
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    wrk_cpu_percent: float
    baseline: str = "B1"
    ratio: float | None = None
    note: str = ""


@dataclass
class Run:
    started_at: str
    machine: str
    settings: dict[str, object]
    results: list[Result] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            sys.exit(
                f"{process.name} exited with {process.popen.returncode}; see its log in {RESULTS}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.2)
    sys.exit(f"{process.name} did not start serving {url} in {timeout:.0f}s")


def uvicorn(app: str, port: int, env: dict[str, str], name: str) -> Process:
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", app,
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(API_WORKERS), "--no-access-log", "--no-proxy-headers",
        "--ws-per-message-deflate", "false",
        "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
    ]  # fmt: skip
    return Process(name, argv, env, RESULTS / f"{name}.log")


def run_wrk(
    url: str,
    mode: str,
    token: str = "",
    ids_file: Path | None = None,
    seconds: int = DURATION,
    connections: int = CONNECTIONS,
) -> dict[str, float]:
    threads = min(WRK_THREADS, connections)
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(SCENARIO_LUA), url, "--", mode, token, str(ids_file or ""), str(threads),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^WRK_JSON (\{.*\})$", output, re.MULTILINE)
    if match is None:
        sys.exit(f"wrk printed no summary:\n{output}")
    stats: dict[str, float] = json.loads(match.group(1))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stats["wrk_cpu_percent"] = 100 * cpu / elapsed
    return stats


def measure(
    name: str,
    url: str,
    mode: str,
    token: str = "",
    ids_file: Path | None = None,
    warmup_ids: Path | None = None,
) -> Result:
    """Warm-up, then the measured run. `warmup_ids` keeps one-shot ids (PATCH) apart from the measured ones."""
    run_wrk(url, mode, token, warmup_ids or ids_file, seconds=WARMUP)
    stats = run_wrk(url, mode, token, ids_file)
    result = Result(
        scenario=name,
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=int(stats["errors"]),
        requests=int(stats["requests"]),
        wrk_cpu_percent=round(stats["wrk_cpu_percent"], 1),
    )
    print(
        f"  {name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, errors {result.errors}",
        flush=True,
    )
    return result


@contextlib.contextmanager
def api_server(env: dict[str, str], name: str) -> Iterator[str]:
    port = free_port()
    process = uvicorn("api.main:create_app", port, env, name)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/openapi.json", process)
        yield base
    finally:
        process.stop()


def login(base: str, email: str) -> tuple[int, str]:
    with httpx.Client(base_url=base, timeout=10) as client:
        user = client.post("/register/", json={"email": email, "password": PASSWORD})
        user.raise_for_status()
        token = client.post("/token", data={"username": email, "password": PASSWORD})
        token.raise_for_status()
        return int(user.json()["id"]), str(token.json()["access_token"])


async def seed_orders(dsn: str, user_id: int, count: int) -> None:
    """Bulk orders for one user, spread one second apart, newest last (bench data, not app code)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            """
            INSERT INTO orders (id, user_id, items, total_price, status, created_at, updated_at, version)
            SELECT gen_random_uuid(), $1,
                   '[{"product_id": "sku-1", "name": "Mug", "quantity": 2, "price": "5.50"}]'::jsonb,
                   11.00, 'PENDING', ts, ts, 1
            FROM (SELECT now() - make_interval(secs => $2 - g) AS ts FROM generate_series(1, $2) g) s
            """,
            user_id,
            count,
        )
        # Their history starts as the API's does: CREATED, seq 1.
        await connection.execute(
            """
            INSERT INTO order_events (order_id, seq, kind, status, at)
            SELECT id, 1, 'CREATED', 'PENDING', created_at FROM orders o
            WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.id)
            """,
            user_id,
        )
    finally:
        await connection.close()


async def order_ids(dsn: str, user_id: int, limit: int) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
            user_id,
            limit,
        )
    finally:
        await connection.close()
    return [str(row["id"]) for row in rows]


async def cursor_at(dsn: str, user_id: int, offset: int) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            "SELECT created_at, id FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            user_id,
            offset,
        )
    finally:
        await connection.close()
    assert row is not None
    return encode_cursor((row["created_at"], row["id"]))


def write_ids(name: str, ids: list[str]) -> Path:
    path = RESULTS / f"{name}.ids"
    path.write_text("\n".join(ids) + "\n")
    return path


def login_latency(base: str, email: str, samples: int = 20) -> float:
    """Median seconds of one /token call (one Argon2id check), measured one at a time."""
    timings = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(samples):
            started = time.perf_counter()
            client.post("/token", data={"username": email, "password": PASSWORD}).raise_for_status()
            timings.append(time.perf_counter() - started)
    timings.sort()
    return timings[len(timings) // 2]


class LoginTrickle:
    """Logs in `per_second` times a second in the background, as real users would."""

    def __init__(self, base: str, email: str, per_second: float) -> None:
        self._base, self._email, self._interval = base, email, 1 / per_second
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self._base, timeout=10) as client:
            while not self._stop.wait(self._interval):
                client.post("/token", data={"username": self._email, "password": PASSWORD})

    def __enter__(self) -> LoginTrickle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# Every field of an order, its items and its owner: what a page of orders can cost.
_ORDER_SELECTION = (
    "id userId status totalPrice createdAt updatedAt "
    "items { productId name quantity price } owner { id email createdAt }"
)
COSTLY_LOOPS = int(os.environ.get("BENCH_COSTLY_LOOPS", "8"))
COSTLY_ITEMS = 50  # items in each order the costly document reads


def costliest_document() -> tuple[str, int]:
    """The most expensive document GRAPHQL_MAX_COST admits: pages of orders with every field,
    each as long as the remaining budget allows (at most 100). Returns it with its cost."""
    settings = GraphQLSettings()
    schema = create_schema(settings)._schema

    def document(limits: list[int]) -> str:
        pages = " ".join(
            f"p{n}: orders(userId: $me, limit: {limit}) {{ {_ORDER_SELECTION} }}"
            for n, limit in enumerate(limits)
        )
        return f"query($me: Int!) {{ {pages} }}"

    def price(limits: list[int]) -> int:
        return cost.measure(schema, graphql_parse(document(limits)), None, {"me": 1}).cost

    limits: list[int] = []
    while fits := [n for n in range(1, 101) if price([*limits, n]) <= settings.max_cost]:
        limits.append(max(fits))
    return document(limits), price(limits)


async def seed_costly_orders(dsn: str, user_id: int, count: int) -> None:
    """Orders of `COSTLY_ITEMS` items each, so the costly document reads every item it may."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            """
            INSERT INTO orders (id, user_id, items, total_price, status, created_at, updated_at, version)
            SELECT gen_random_uuid(), $1,
                   (SELECT jsonb_agg(jsonb_build_object('product_id', 'sku-' || i, 'name', 'Item ' || i,
                                                        'quantity', 1, 'price', '1.00'))
                    FROM generate_series(1, $3) i),
                   $3, 'PENDING', now(), now(), 1
            FROM generate_series(1, $2)
            """,
            user_id,
            count,
            COSTLY_ITEMS,
        )
    finally:
        await connection.close()


def costly_graphql_scenario(
    base: str, costly_id: int, costly_token: str, reader_token: str, reader_ids: Path
) -> Result:
    """`COSTLY_LOOPS` clients each POST the costliest admitted document in a loop, while another
    user GETs its cached orders one after another (wrk, one connection, its own process): how long
    do that user's reads take?"""
    document, price = costliest_document()
    body = {"query": document, "variables": {"me": costly_id}}
    stop = threading.Event()
    heavy: list[tuple[int, bool]] = []  # (HTTP status, had errors)

    def loop() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            headers = {"Authorization": f"Bearer {costly_token}"}
            while not stop.is_set():
                answer = client.post("/graphql", json=body, headers=headers)
                heavy.append((answer.status_code, b'"errors"' in answer.content))

    loops = [threading.Thread(target=loop, daemon=True) for _ in range(COSTLY_LOOPS)]
    for thread in loops:
        thread.start()
    try:
        run_wrk(base, "get-order", reader_token, reader_ids, seconds=WARMUP, connections=1)
        heavy.clear()
        started = time.monotonic()
        stats = run_wrk(base, "get-order", reader_token, reader_ids, connections=1)
        costly_per_second = len(heavy) / (time.monotonic() - started)
    finally:
        stop.set()
        for thread in loops:
            thread.join()
    failed_heavy = sum(1 for status, errors in heavy if status != 200 or errors)
    result = Result(
        scenario=f"9. cached GET while {COSTLY_LOOPS} loops POST the costliest GraphQL document",
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=int(stats["errors"]),
        requests=int(stats["requests"]),
        wrk_cpu_percent=round(stats["wrk_cpu_percent"], 1),
        baseline="-",
        note=f"one reader (wrk -c1); document cost {price:,}; {costly_per_second:.1f} costly "
        f"answers/s, {failed_heavy} with errors; target p99 < 500 ms",
    )
    print(
        f"  {result.scenario}: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
        f"errors {result.errors}; {result.note}",
        flush=True,
    )
    return result


def redis_benchmark() -> float:
    output = subprocess.run(
        ["redis-benchmark", "-t", "get", "-n", "200000", "-c", str(CONNECTIONS), "-q"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"GET: ([\d.]+) requests per second", output.replace("\r", "\n"))
    return float(match.group(1)) if match else float("nan")


def pgbench(database: str) -> float:
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(
        ["pgbench", *base, "-i", "-s", "1", "-q", database], capture_output=True, check=True
    )
    output = subprocess.run(
        ["pgbench", *base, "-S", "-c", str(CONNECTIONS), "-j", "2", "-T", str(DURATION), database],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"tps = ([\d.]+)", output)
    return float(match.group(1)) if match else float("nan")


def markdown(run: Run) -> str:
    lines = [
        f"# Benchmark {run.started_at}",
        "",
        f"{run.machine}; wrk -t{WRK_THREADS} -c{CONNECTIONS}, {WARMUP}s warm-up + {DURATION}s per scenario; "
        f"uvicorn --workers {API_WORKERS} (uvloop, httptools).",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | ratio | wrk CPU % | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in run.results:
        ratio = f"{r.ratio:.2f} × {r.baseline}" if r.ratio is not None else ""
        lines.append(
            f"| {r.scenario} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {ratio} "
            f"| {r.wrk_cpu_percent:.0f} | {r.note} |"
        )
    lines += ["", *(f"- {key}: {value}" for key, value in run.extra.items())]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def pipeline_processes(env: dict[str, str]) -> Iterator[None]:
    """The consumer and the worker, for the whole run: every order created is processed."""
    processes = [
        Process(name, [sys.executable, "-m", name], env, RESULTS / f"{name}.log")
        for name in ("consumer", "worker")
    ]
    try:
        yield
    finally:
        for process in processes:
            process.stop(grace=15)


async def _pending(connection: asyncpg.Connection) -> int:
    """Events created but not yet processed by the worker."""
    return int(
        await connection.fetchval(
            "SELECT (SELECT count(*) FROM outbox_events) - (SELECT count(*) FROM processed_events)"
        )
    )


async def wait_all_processed(dsn: str, within: float) -> float:
    """Seconds until every event created so far has been processed."""
    connection = await asyncpg.connect(dsn)
    started = time.monotonic()
    try:
        while await _pending(connection) > 0:
            if time.monotonic() - started > within:
                sys.exit(f"events still unprocessed after {within:.0f}s; see {RESULTS}/worker.log")
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
    return time.monotonic() - started


async def commit_to_start_ms(dsn: str, since: datetime) -> list[float]:
    """Sorted commit → task-start latencies of the events created since `since`."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT extract(epoch FROM p.started_at - o.created_at) * 1000 AS ms"
            " FROM processed_events p JOIN outbox_events o ON o.id = p.event_id WHERE o.created_at >= $1",
            since,
        )
    finally:
        await connection.close()
    return sorted(float(row["ms"]) for row in rows)


def _percentiles(values: list[float]) -> str:
    def pick(q: float) -> float:
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    return f"p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms (n={len(values)})"


def pipeline_scenario(base: str, dsn: str, token: str) -> dict[str, object]:
    """7. Commit → task start when idle (orders one at a time), then a burst of BURST_ORDERS."""
    headers = {"Authorization": f"Bearer {token}"}
    body: dict[str, object] = {"items": [{"product_id": "sku-1", "quantity": 1, "price": "9.99"}]}
    since = datetime.now(UTC)
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for _ in range(IDLE_ORDERS):
            client.post("/orders/", json=body).raise_for_status()
            # Pacing the load generator, not synchronisation: the orders arrive one by one.
            time.sleep(0.05)
    asyncio.run(wait_all_processed(dsn, within=120))
    idle = asyncio.run(commit_to_start_ms(dsn, since))

    since = datetime.now(UTC)
    started, done = asyncio.run(create_orders(base))  # BENCH_ORDERS orders, BENCH_CLIENTS at once
    created = done - started
    asyncio.run(wait_all_processed(dsn, within=600))
    total = time.monotonic() - started
    burst = asyncio.run(commit_to_start_ms(dsn, since))
    return {
        "7a. pipeline idle: commit → task start": _percentiles(idle),
        f"7b. pipeline burst: {BURST_ORDERS} orders created in": f"{created:.1f} s",
        f"7b. pipeline burst: all {BURST_ORDERS} processed after": f"{total:.1f} s",
        "7b. pipeline burst: commit → task start": _percentiles(burst),
    }


def traced_cached_get(env: dict[str, str], token: str, ids: Path) -> Result:
    """The cached GET with tracing on as production would run it: OTLP over HTTP, 10 % sampled,
    exported to a local sink (bench/otlp_sink.py) that decodes and counts what it receives."""
    port = free_port()
    sink = Process(
        "otlp-sink",
        [sys.executable, "-m", "bench.otlp_sink", str(port)],
        env,
        RESULTS / "otlp-sink.log",
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", sink)
        traced = {
            **env,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
        }
        with api_server(traced, "api-traced") as base:
            result = measure(
                "1d. cached GET, tracing on (OTLP, 10 % sampled)", base, "get-order", token, ids
            )
        received = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).json()
    finally:
        sink.stop()
    result.note = f"{received['spans']:,} spans received by the OTLP sink"
    return result


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    database, pg_database = f"orders_bench_{tag}", f"orders_pgbench_{tag}"
    vhost = f"orders_bench_{tag}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    env = {
        # Untraced unless a scenario says so: the baseline is the service as it runs by default.
        **{name: value for name, value in os.environ.items() if not name.startswith("OTEL_")},
        "DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://"),
        "REDIS_KEY_PREFIX": f"orders-bench-{tag}:",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_SIZE": "32",
        "RABBITMQ_URL": str(URL(RABBITMQ_URL).with_path(f"/{vhost}")),
        "TASKIQ_STREAM": f"orders-bench-{tag}:taskiq",
        "WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "LOG_FORMAT": "text",
    }
    run = Run(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().machine}",
        settings={
            "duration_s": DURATION,
            "warmup_s": WARMUP,
            "connections": CONNECTIONS,
            "api_workers": API_WORKERS,
            "worker_concurrency": WORKER_CONCURRENCY,
        },
    )
    try:
        with throwaway_backends(database=database, vhost=vhost, env=env):
            run_scenarios(run, env, dsn, tag, pg_database)
    finally:
        # The cache, the rate-limit counters and the taskiq stream of this run.
        asyncio.run(delete_redis_keys(f"orders-bench-{tag}:"))

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    table = markdown(run)
    (RESULTS / f"bench-{stamp}.md").write_text(table)
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(asdict(run), indent=2))
    chart.draw(asdict(run), RESULTS / f"bench-{stamp}.png")
    print()
    print(table)


def run_scenarios(run: Run, env: dict[str, str], dsn: str, tag: str, pg_database: str) -> None:
    """Every scenario, in order, each row appended to `run`."""
    print("B1: bare FastAPI app", flush=True)
    port = free_port()
    bare = uvicorn("bench.bare_app:create_app", port, env, "bare")
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/bare", bare)
        b1 = measure("B1 bare FastAPI route", f"http://127.0.0.1:{port}/bare", "plain")
    finally:
        bare.stop()
    b1.ratio = 1.0
    run.results.append(b1)

    def versus(result: Result, baseline: Result, label: str = "B1") -> Result:
        result.ratio, result.baseline = result.rps / baseline.rps, label
        run.results.append(result)
        return result

    # Before any API process runs: the relay measured must be the only one.
    print("8. outbox relay alone", flush=True)
    run.extra.update(relay_scenario(env["DATABASE_URL"], env["RABBITMQ_URL"], dsn))
    rabbitmqctl("purge_queue", "-p", f"orders_bench_{tag}", "new_order")
    asyncio.run(empty_outbox(dsn))

    with pipeline_processes(env), api_server(env, "api") as base:
        reader_id, reader_token = login(base, f"reader-{tag}@example.com")
        deep_id, deep_token = login(base, f"deep-{tag}@example.com")
        patcher_id, patcher_token = login(base, f"patcher-{tag}@example.com")
        _, writer_token = login(base, f"writer-{tag}@example.com")
        asyncio.run(seed_orders(dsn, reader_id, 1000))
        asyncio.run(seed_orders(dsn, deep_id, DEEP_ORDERS))
        asyncio.run(seed_orders(dsn, patcher_id, PATCH_ORDERS))
        reader_ids = write_ids("reader", asyncio.run(order_ids(dsn, reader_id, 1000)))
        pending = asyncio.run(order_ids(dsn, patcher_id, PATCH_ORDERS))
        patch_ids, patch_warmup_ids = (
            write_ids("patch", pending[::2]),
            write_ids("patch-warmup", pending[1::2]),
        )
        deep_cursor = asyncio.run(cursor_at(dsn, deep_id, 1000 * 50 - 1))
        costly_id, costly_token = login(base, f"costly-{tag}@example.com")
        asyncio.run(seed_costly_orders(dsn, costly_id, 200))

        print("API scenarios", flush=True)
        cached = versus(
            measure("1. GET /orders/{id}/ cached", base, "get-order", reader_token, reader_ids),
            b1,
        )
        with LoginTrickle(base, f"reader-{tag}@example.com", per_second=5):
            trickle = versus(
                measure("1b. cached GET + 5 logins/s", base, "get-order", reader_token, reader_ids),
                b1,
            )
        trickle.note = f"p99 {trickle.p99_ms / cached.p99_ms:.2f}× the cached GET's"
        posted = versus(measure("3. POST /orders/", base, "post-order", writer_token), b1)
        drained = asyncio.run(wait_all_processed(dsn, within=600))
        posted.note = f"every created order processed {drained:.0f} s after the scenario"
        versus(
            measure(
                "4. PATCH /orders/{id}/ (PENDING→PAID)",
                base,
                "patch-order",
                patcher_token,
                patch_ids,
                patch_warmup_ids,
            ),
            b1,
        )
        first = versus(
            measure(
                "5a. list, first page (limit 50)",
                f"{base}/orders/user/{deep_id}/?limit=50",
                "plain",
                deep_token,
            ),
            b1,
        )
        deep = versus(
            measure(
                "5b. list, page 1,000 deep",
                f"{base}/orders/user/{deep_id}/?limit=50&cursor={deep_cursor}",
                "plain",
                deep_token,
            ),
            b1,
        )
        deep.note = f"p99 {deep.p99_ms / first.p99_ms:.2f}× the first page's"
        graphql_ok = (
            httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, timeout=5).status_code
            == 200
        )
        if graphql_ok:
            versus(
                measure(
                    "6. GraphQL order(id) cached",
                    f"{base}/graphql",
                    "graphql-order",
                    reader_token,
                    reader_ids,
                ),
                b1,
            )
            run.results.append(
                costly_graphql_scenario(base, costly_id, costly_token, reader_token, reader_ids)
            )
        print("pipeline", flush=True)
        run.extra.update(pipeline_scenario(base, dsn, writer_token))
        run.extra["/token median (one Argon2id check, sequential)"] = (
            f"{1000 * login_latency(base, f'reader-{tag}@example.com'):.1f} ms"
        )

    with api_server({**env, "ORDER_CACHE_ENABLED": "false"}, "api-nocache") as base:
        uncached = measure(
            "2. GET /orders/{id}/ uncached", base, "get-order", reader_token, reader_ids
        )
        versus(uncached, cached, "cached GET")

    with api_server(
        {**env, "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_DEFAULT": "1000000000/minute"},
        "api-limited",
    ) as base:
        versus(
            measure(
                "1c. cached GET, rate limiting on", base, "get-order", reader_token, reader_ids
            ),
            b1,
        )

    versus(traced_cached_get(env, reader_token, reader_ids), cached, "cached GET")

    print("live updates", flush=True)
    run.extra.update(live_scenario(env, free_port()))

    print("servers", flush=True)
    run.extra["redis-benchmark -t get (c=64)"] = f"{redis_benchmark():,.0f} req/s"
    asyncio.run(create_database(pg_database))
    try:
        run.extra["pgbench -S (c=64, scale 1)"] = f"{pgbench(pg_database):,.0f} tps"
    finally:
        asyncio.run(drop_database(pg_database))


if __name__ == "__main__":
    main()
