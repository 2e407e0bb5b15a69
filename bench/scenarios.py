"""The scenarios of `make bench` that do more than point wrk at one URL: GraphQL under costly
documents, the event pipeline idle and under a burst, the cached GET traced."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import httpx
from graphql import parse as graphql_parse

from bench.harness import (
    CONNECTIONS,
    RESULTS,
    WARMUP,
    Result,
    api_server,
    free_port,
    run_wrk,
    wait_until_serving,
)
from bench.pipeline import create_orders
from bench.stack import Process
from graph import cost
from graph.schema import create_schema
from graph.settings import GraphQLSettings

WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "400"))
IDLE_ORDERS = int(os.environ.get("BENCH_IDLE_ORDERS", "50"))
# The burst of scenario 7b: the issue's 10,000 orders, all to be processed within a minute.
BURST_ORDERS = int(os.environ.get("BENCH_BURST_ORDERS", "10000"))
# As many clients as the HTTP scenarios use: the burst arrives as fast as the API takes orders.
BURST_CLIENTS = int(os.environ.get("BENCH_BURST_CLIENTS", "64"))
# Each task sleeps 2 s, so one worker finishes WORKER_CONCURRENCY / 2 orders a second.
PIPELINE_WORKERS = int(os.environ.get("BENCH_PIPELINE_WORKERS", "2"))


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


def _reads_while_posting(
    base: str,
    body: dict[str, object],
    headers: dict[str, str],
    loops: int,
    reader_token: str,
    reader_ids: Path,
    per_second: float | None = None,
) -> tuple[dict[str, float], float, int]:
    """`loops` clients each POST `body` to /graphql in a loop (all together at most `per_second`,
    when given) while another user GETs its cached orders one after another (wrk, one connection,
    its own process). Returns wrk's statistics, the POSTs answered per second, and how many of them
    failed or had errors."""
    stop = threading.Event()
    posted: list[tuple[int, bool]] = []  # (HTTP status, had errors)
    interval = loops / per_second if per_second else 0.0

    def loop() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            next_at = time.monotonic()
            while not stop.is_set():
                answer = client.post("/graphql", json=body, headers=headers)
                posted.append((answer.status_code, b'"errors"' in answer.content))
                next_at += interval
                # Pacing the load generator, not waiting for the server.
                stop.wait(max(0.0, next_at - time.monotonic()))

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(loops)]
    for thread in threads:
        thread.start()
    try:
        run_wrk(base, "get-order", reader_token, reader_ids, seconds=WARMUP, connections=1)
        posted.clear()
        started = time.monotonic()
        stats = run_wrk(base, "get-order", reader_token, reader_ids, connections=1)
        per_second = len(posted) / (time.monotonic() - started)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    failed = sum(1 for status, errors in posted if status != 200 or errors)
    return stats, per_second, failed


def _printed(result: Result) -> Result:
    print(
        f"  {result.scenario}: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
        f"errors {result.errors}; {result.note}",
        flush=True,
    )
    return result


def costly_graphql_scenario(
    base: str, costly_id: int, costly_token: str, reader_token: str, reader_ids: Path
) -> Result:
    """`COSTLY_LOOPS` clients each POST the costliest admitted document in a loop: how long do
    another user's cached reads take?"""
    document, price = costliest_document()
    stats, per_second, failed = _reads_while_posting(
        base,
        {"query": document, "variables": {"me": costly_id}},
        {"Authorization": f"Bearer {costly_token}"},
        COSTLY_LOOPS,
        reader_token,
        reader_ids,
    )
    return _printed(
        Result.from_wrk(
            f"9. cached GET while {COSTLY_LOOPS} loops POST the costliest GraphQL document",
            stats,
            baseline="-",
            note=f"one reader (wrk -c1); document cost {price:,}; {per_second:.1f} costly "
            f"answers/s, {failed} with errors; target p99 < 500 ms",
        )
    )


INTROSPECTION_LOOPS = 4
# Issue 29's attack: fifteen aliased `__schema { types { fields { type { ofType … } } } }`, anonymous.
INTROSPECTION_ATTACK = (
    "{ "
    + " ".join(
        f"a{n}: __schema {{ types {{ fields {{ type {{ ofType {{ name }} }} }} }} }}"
        for n in range(15)
    )
    + " }"
)


# Issue 29 measured 22 attacks in 8 s over 4 connections (each took 0.5-0.7 s then).
ISSUE_RATE = 22 / 8


def introspection_flood_scenario(
    base: str, reader_token: str, reader_ids: Path, *, per_second: float | None = None
) -> Result:
    """9c. `INTROSPECTION_LOOPS` anonymous clients each POST issue 29's introspection attack in a
    loop, as fast as answered (or together at `per_second`, 9d): how long do another user's cached
    reads take?"""
    stats, answered, failed = _reads_while_posting(
        base,
        {"query": INTROSPECTION_ATTACK},
        {},
        INTROSPECTION_LOOPS,
        reader_token,
        reader_ids,
        per_second=per_second,
    )
    row, pace = ("9c", "loops") if per_second is None else ("9d", f"loops at {per_second:.2f}/s")
    return _printed(
        Result.from_wrk(
            f"{row}. cached GET while {INTROSPECTION_LOOPS} {pace} POST the introspection attack",
            stats,
            baseline="-",
            note=f"one reader (wrk -c1); {len(INTROSPECTION_ATTACK)}-character document; "
            f"{answered:.1f} attack answers/s, {failed} with errors; target p99 <= 100 ms",
        )
    )


@contextlib.contextmanager
def pipeline_processes(env: dict[str, str]) -> Iterator[None]:
    """The consumer and PIPELINE_WORKERS workers, for the whole run: every order is processed."""
    names = ["consumer", *(f"worker-{n}" for n in range(1, PIPELINE_WORKERS + 1))]
    processes = [
        Process(name, [sys.executable, "-m", name.split("-")[0]], env, RESULTS / f"{name}.log")
        for name in names
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
            "SELECT (SELECT count(*) FROM outbox_events WHERE event_type = 'new_order')"
            " - (SELECT count(*) FROM processed_events)"
        )
    )


async def wait_all_processed(dsn: str, within: float) -> float:
    """Seconds until every event created so far has been processed."""
    connection = await asyncpg.connect(dsn)
    started = time.monotonic()
    try:
        while await _pending(connection) > 0:
            if time.monotonic() - started > within:
                sys.exit(
                    f"events still unprocessed after {within:.0f}s; see {RESULTS}/worker-*.log"
                )
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
    started, done, count = create_orders(base, dsn, BURST_ORDERS, BURST_CLIENTS)
    created = done - started
    asyncio.run(wait_all_processed(dsn, within=600))
    total = time.time() - started
    burst = asyncio.run(commit_to_start_ms(dsn, since))
    printed, distinct = _processed_lines()
    return {
        "7a. pipeline idle: commit → task start": _percentiles(idle),
        f"7b. pipeline burst: {count:,} orders created in": f"{created:.1f} s",
        f"7b. pipeline burst: all {count:,} processed after": (
            f"{total:.1f} s (goal ≤ 60 s for 10,000; {PIPELINE_WORKERS} workers × "
            f"WORKER_CONCURRENCY {WORKER_CONCURRENCY})"
        ),
        "7b. pipeline burst: commit → task start": _percentiles(burst),
        "7. 'Order <id> processed' lines (all orders of the run)": (
            f"{printed:,} for {distinct:,} orders: {printed - distinct} doubled"
        ),
    }


def _processed_lines() -> tuple[int, int]:
    """The workers' `Order <id> processed` lines: how many, and for how many distinct orders."""
    lines = [
        line
        for log in RESULTS.glob("worker-*.log")
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith("Order ") and line.endswith(" processed")
    ]
    return len(lines), len(set(lines))


# Scenario 6b's document: the frontend's order page, as an APQ client would send it.
ORDER_PAGE = "query Order($id: UUID!) { order(id: $id) { id status totalPrice items { productId quantity price } } }"


def persisted_query_url(base: str, token: str) -> str:
    """Registers ORDER_PAGE as a persisted query (graph/persisted.py) as a client's first request
    does, and returns the GET URL that names it by hash (wrk adds each request's variables)."""
    digest = hashlib.sha256(ORDER_PAGE.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    registered = httpx.post(
        f"{base}/graphql",
        json={
            "query": ORDER_PAGE,
            "variables": {"id": str(uuid.uuid4())},
            "extensions": extensions,
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    # It ran (no such order, but no persisted-query error): the hash is registered.
    if [error["extensions"]["code"] for error in registered["errors"]] != ["NOT_FOUND"]:
        sys.exit(f"registering the persisted query failed: {registered}")
    return f"{base}/graphql?{urlencode({'extensions': json.dumps(extensions)})}"


def traced_cached_get(
    env: dict[str, str], token: str, ids: Path, *, redis_traced: bool = True
) -> Result:
    """The cached GET with tracing on as production would run it: OTLP over HTTP, 10 % sampled,
    exported to a local sink (bench/otlp_sink.py) that decodes and counts what it receives; with
    `redis_traced` false, Redis commands left out (OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=redis).

    Its baseline is the untraced cached GET measured at the same time: both APIs run side by side
    and two wrk load them at once, half the connections each, so they share the cores and this VM's
    drifts (a quarter within minutes; one after the other, single pairs ranged 0.69-0.89). Each
    gets about half the machine, so the ratio of their throughputs is the ratio of their costs per
    request. Three rounds; the median round's figures are reported."""
    port = free_port()
    sink = Process(
        "otlp-sink",
        [sys.executable, "-m", "bench.otlp_sink", str(port)],
        env,
        RESULTS / "otlp-sink.log",
    )
    traced_env = {
        **env,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
        **({} if redis_traced else {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "redis"}),
    }
    rounds: list[tuple[Result, Result]] = []
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", sink)
        with (
            api_server(env, "api-untraced") as untraced,
            api_server(traced_env, "api-traced") as traced,
        ):
            for _ in range(3):
                rounds.append(_side_by_side(untraced, traced, token, ids))
        received = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).json()
    finally:
        sink.stop()
    rounds.sort(key=lambda pair: pair[1].rps / pair[0].rps)
    baseline, result = rounds[len(rounds) // 2]
    result.scenario = (
        "1d. cached GET, tracing on (OTLP, 10 % sampled)"
        if redis_traced
        else "1e. cached GET, tracing on, Redis commands not traced"
    )
    result.ratio = result.rps / baseline.rps
    result.baseline = "untraced cached GET at the same time"
    spread = ", ".join(f"{traced.rps / untraced.rps:.2f}" for untraced, traced in rounds)
    result.note = (
        f"untraced at the same time: {baseline.rps:,.0f} req/s, p99 {baseline.p99_ms:.1f} ms "
        f"(each API on half the machine; wrk CPU counts both wrk); rounds {spread}; "
        f"{received['spans']:,} spans received by the OTLP sink"
    )
    return result


def _side_by_side(untraced: str, traced: str, token: str, ids: Path) -> tuple[Result, Result]:
    """One round: warm-up, then the measured run, of both APIs at once."""
    results: dict[str, Result] = {}

    def load(name: str, base: str) -> None:
        run_wrk(base, "get-order", token, ids, seconds=WARMUP, connections=CONNECTIONS // 2)
        stats = run_wrk(base, "get-order", token, ids, connections=CONNECTIONS // 2)
        results[name] = Result.from_wrk(name, stats)

    threads = [
        threading.Thread(target=load, args=("cached GET, untraced", untraced)),
        threading.Thread(target=load, args=("cached GET, tracing on", traced)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pair = (results["cached GET, untraced"], results["cached GET, tracing on"])
    for result in pair:
        print(
            f"  {result.scenario}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.2f} ms", flush=True
        )
    return pair
