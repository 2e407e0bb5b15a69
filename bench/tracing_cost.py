"""`make bench-tracing`: what tracing costs a cached read, in CPU time per request, and where.

`make bench`'s scenario 1d loads a traced and an untraced API side by side and compares their
throughput, the figure a user sees; its rounds still spread by ±0.05 on this VM, too coarse to say
which part of tracing the difference comes from. Here the API is built several times in one
process, each copy with its own tracer provider (or none), and each copy answers the same cached
`GET /orders/{id}/` through its whole ASGI stack, in blocks that alternate between the copies, so
they all share the machine's drift. Reported per copy: the median block's CPU time per request on
the event loop's thread, plus its exporter thread's CPU over all its requests (spans go over
OTLP/HTTP to the bench's sink, as in scenario 1d). No HTTP server is in the loop: the figures are
the application's cost alone.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from unittest import mock

import httpx
import uvloop
from fastapi import FastAPI
from opentelemetry.instrumentation.environment_variables import (
    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS as DISABLED_INSTRUMENTATIONS,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from starlette.types import Message
from yarl import URL

from bench.harness import PASSWORD, RESULTS, free_port, wait_until_serving
from bench.stack import PG_ADMIN, RABBITMQ_URL, Process, delete_redis_keys, throwaway_backends

BLOCK = int(os.environ.get("BENCH_TRACING_BLOCK", "500"))  # requests per block
BLOCKS = int(os.environ.get("BENCH_TRACING_BLOCKS", "30"))  # blocks per copy


@dataclass
class Copy:
    """One build of the API and what its requests cost."""

    name: str
    ratio: float | None  # the sampler's ratio of new traces kept; None: tracing off
    redis_traced: bool = True
    app: FastAPI | None = None
    provider: TracerProvider | None = None
    exporter_threads: list[threading.Thread] = field(default_factory=list)
    blocks_us: list[float] = field(default_factory=list)  # event loop thread, µs per request
    exporter_cpu_s: float = 0.0

    def exporter_us(self) -> float:
        return 1e6 * self.exporter_cpu_s / (BLOCK * BLOCKS)

    def per_request_us(self) -> float:
        return statistics.median(self.blocks_us) + self.exporter_us()


COPIES = [
    Copy("tracing off", None),
    Copy("on, 0 % kept (nothing recorded)", 0.0),
    Copy("on, 10 % kept (as `make bench` 1d)", 0.1),
    Copy("on, 10 % kept, `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=redis`", 0.1, redis_traced=False),
]


def _thread_cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def _build(copy: Copy) -> None:
    """`copy.app`, with its own tracer provider in place of the one OTEL_* would configure."""
    from api.main import create_app  # after the environment names this run's backends

    provider = None
    if copy.ratio is not None:
        from infra.otlp import otlp_span_exporter

        provider = TracerProvider(
            resource=Resource({SERVICE_NAME: "orders-api"}),
            sampler=ParentBased(TraceIdRatioBased(copy.ratio)),
        )
        before = set(threading.enumerate())
        provider.add_span_processor(BatchSpanProcessor(otlp_span_exporter("http/protobuf")))
        copy.exporter_threads = [t for t in threading.enumerate() if t not in before]
    copy.provider = provider
    with mock.patch("api.main.configure_tracing", return_value=provider):
        copy.app = create_app()


async def _sign_up_and_order(app: FastAPI) -> tuple[str, str]:
    """A user's bearer token and one order of theirs, read once so that it is cached."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        email = f"tracing-{uuid.uuid4().hex[:8]}@example.com"
        (
            await client.post("/register/", json={"email": email, "password": PASSWORD})
        ).raise_for_status()
        answer = await client.post("/token", data={"username": email, "password": PASSWORD})
        token: str = answer.raise_for_status().json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        item = {"product_id": "sku-1", "price": "1.00", "quantity": 1}
        answer = await client.post("/orders/", json={"items": [item]}, headers=headers)
        order_id: str = answer.raise_for_status().json()["id"]
        (await client.get(f"/orders/{order_id}/", headers=headers)).raise_for_status()
    return token, order_id


def _cached_read(app: FastAPI, token: str, order_id: str) -> Callable[[], Awaitable[None]]:
    """One cached `GET /orders/{id}/` through the app's whole ASGI stack, as uvicorn would call it;
    it fails the run unless the answer is a 200 from the cache."""
    path = f"/orders/{order_id}/"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "state": {},
    }
    request: Message = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> Message:
        return request

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message["headers"])
            if message["status"] != 200 or headers.get(b"x-cache") != b"HIT":
                sys.exit(f"not a cached read: {message['status']} {headers}")

    async def read() -> None:
        await app(dict(scope), receive, send)

    return read


async def _measure() -> None:
    async with AsyncExitStack() as stack:
        for copy in COPIES:
            assert copy.app is not None
            # The lifespan instruments the Redis client it opens, unless the variable says not to.
            disabled = {} if copy.redis_traced else {DISABLED_INSTRUMENTATIONS: "redis"}
            with mock.patch.dict(os.environ, disabled):
                await stack.enter_async_context(copy.app.router.lifespan_context(copy.app))
        first = COPIES[0].app
        assert first is not None
        token, order_id = await _sign_up_and_order(first)
        reads = {copy.name: _cached_read(copy.app, token, order_id) for copy in COPIES if copy.app}
        for read in reads.values():  # warm-up
            for _ in range(BLOCK):
                await read()
        for copy in COPIES:  # the warm-up's spans exported before the count starts
            _flush(copy)
        exporter_start = {copy.name: _exporter_thread_cpu(copy) for copy in COPIES}
        for block in range(BLOCKS):
            for copy in COPIES if block % 2 == 0 else COPIES[::-1]:
                read = reads[copy.name]
                started = time.thread_time()
                for _ in range(BLOCK):
                    await read()
                copy.blocks_us.append(1e6 * (time.thread_time() - started) / BLOCK)
        for copy in COPIES:
            # The spans still queued are exported on this thread, and count.
            flushing = _flush(copy)
            exported = _exporter_thread_cpu(copy) - exporter_start[copy.name]
            copy.exporter_cpu_s = flushing + exported


def _flush(copy: Copy) -> float:
    """Export every span `copy` has queued; the CPU seconds it took this thread."""
    started = time.thread_time()
    if copy.provider is not None:
        copy.provider.force_flush()
    return time.thread_time() - started


def _exporter_thread_cpu(copy: Copy) -> float:
    return sum(_thread_cpu(thread) for thread in copy.exporter_threads)


def _report() -> str:
    off, nothing_kept, tenth = (copy.per_request_us() for copy in COPIES[:3])
    lines = [
        "| copy of the API | CPU per cached read | of it, the exporter's thread | more than off "
        "| off ÷ this |",
        "|---|---|---|---|---|",
    ]
    for copy in COPIES:
        cost = copy.per_request_us()
        lines.append(
            f"| {copy.name} | {cost:.1f} µs | {copy.exporter_us():.1f} µs | {cost - off:+.1f} µs "
            f"| {off / cost:.3f} |"
        )
    quartiles = [statistics.quantiles(copy.blocks_us, n=4) for copy in COPIES]
    lines += [
        "",
        f"A kept request costs ~{(tenth - nothing_kept) / 0.1:.0f} µs more than one not kept. "
        f"{BLOCKS} blocks of {BLOCK} requests per copy, alternating; the widest interquartile "
        f"range of a copy's blocks: {max(q[2] - q[0] for q in quartiles):.1f} µs.",
    ]
    return "\n".join(lines)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    database = vhost = f"orders_tracing_{tag}"
    sink_port = free_port()
    env = {
        "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        + f"/{database}",
        "REDIS_KEY_PREFIX": f"orders-tracing-{tag}:",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
        "RABBITMQ_URL": str(URL(RABBITMQ_URL).with_path(f"/{vhost}")),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
    }
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        del os.environ[name]
    os.environ.update(env)
    sink = Process(
        "otlp-sink",
        [sys.executable, "-m", "bench.otlp_sink", str(sink_port)],
        dict(os.environ),
        RESULTS / "otlp-sink-tracing.log",
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{sink_port}/", sink)
        with throwaway_backends(database=database, vhost=vhost, env=dict(os.environ)):
            for copy in COPIES:
                _build(copy)
            uvloop.run(_measure())
    finally:
        sink.stop()
        asyncio.run(delete_redis_keys(env["REDIS_KEY_PREFIX"]))
    report = _report()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"tracing-cost-{stamp}.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
