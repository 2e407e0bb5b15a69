"""Tracing in the API process, spans caught in memory: requests (fast path included), SQL, Redis,
GraphQL, the outbox row's traceparent, log lines; and, in a fresh interpreter, tracing off."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import ApiProcessSettings
from infra.logs import configure_logging
from infra.settings import AppSettings, LogFormat
from infra.tracing import install_tracing
from tests.conftest import UserFactory, order_body
from tests.support.app import running_app
from tests.support.pipeline import app_env
from tests.support.processes import ROOT

PASSWORD = "tracing-pw-5ecret"
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


class _SpansOfOneTest(InMemorySpanExporter):
    """Keeps spans only while a test of this module asks for them."""

    recording = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return super().export(spans) if self.recording else SpanExportResult.SUCCESS


@pytest.fixture(scope="session")
def _span_memory() -> _SpansOfOneTest:
    # OpenTelemetry's tracer provider is set once per process: from here on, this test process
    # traces (into memory, kept only during these tests), as a process with OTEL_TRACES_EXPORTER would.
    exporter = _SpansOfOneTest()
    provider = TracerProvider(resource=Resource({SERVICE_NAME: "orders-api"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install_tracing(provider)
    return exporter


@pytest.fixture
def spans(_span_memory: _SpansOfOneTest) -> Iterator[_SpansOfOneTest]:
    """Tracing on (for apps built from now on); the spans finished during the test."""
    _span_memory.clear()
    _span_memory.recording = True
    yield _span_memory
    _span_memory.recording = False
    _span_memory.clear()


@pytest.fixture
def traced_client(spans: _SpansOfOneTest, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The app under test, built after tracing was switched on (fixture order matters)."""
    return client


def named(spans: _SpansOfOneTest, name: str) -> list[ReadableSpan]:
    return [span for span in spans.get_finished_spans() if span.name == name]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


async def test_a_created_order_continues_the_clients_trace_into_its_outbox_row(
    spans: _SpansOfOneTest,
    traced_client: httpx.AsyncClient,
    users: UserFactory,
    clean_db: AsyncEngine,
) -> None:
    user = await users.create()
    client_trace, client_span = secrets.token_hex(16), secrets.token_hex(8)
    headers = {**user.headers, "traceparent": f"00-{client_trace}-{client_span}-01"}

    created = await traced_client.post("/orders/", json=order_body(), headers=headers)

    assert created.status_code == 201
    order_id = created.json()["id"]
    [request] = named(spans, "POST /orders/")
    assert hex_ids(request)[0] == client_trace
    assert parent_id(request) == int(client_span, 16)
    assert request.attributes is not None
    assert request.attributes["orders.order_id"] == order_id
    assert request.attributes["orders.user_id"] == user.id
    assert request.attributes["http.response.status_code"] == 201
    # The order and its outbox event are written within the request's span, in one statement.
    statements = [
        str((span.attributes or {}).get("db.statement", ""))
        for span in spans.get_finished_spans()
        if parent_id(span) == request.context.span_id
    ]
    assert any(
        "INSERT INTO orders " in statement and "INSERT INTO outbox_events " in statement
        for statement in statements
    )
    async with clean_db.connect() as connection:
        stored = await connection.execute(
            text(
                "SELECT id, traceparent FROM outbox_events WHERE payload->>'order_id' = :id"
                " ORDER BY event_type"
            ),
            {"id": order_id},
        )
        (event_id, traceparent), (_, history_traceparent) = stored.all()
    # The order's first history event (order.created, for webhooks) carries the same context.
    assert history_traceparent == traceparent
    # The event is published under the request's own span: the rest of the pipeline hangs from it.
    assert traceparent == "00-{}-{}-01".format(*hex_ids(request))
    assert request.attributes["orders.event_id"] == str(event_id)


async def test_a_cached_read_served_by_the_fast_path_is_traced(
    spans: _SpansOfOneTest, traced_client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = (
        await traced_client.post("/orders/", json=order_body(), headers=user.headers)
    ).json()["id"]
    spans.clear()

    read = await traced_client.get(f"/orders/{order_id}/", headers=user.headers)

    assert read.status_code == 200
    assert read.headers["X-Cache"] == "HIT"
    [request] = named(spans, "GET /orders/{order_id}/")
    assert request.attributes is not None
    assert request.attributes["orders.order_id"] == order_id
    assert request.attributes["http.response.status_code"] == 200
    # One Redis round trip (rate limit and cache together), no SQL: the fast path's work.
    children = [s for s in spans.get_finished_spans() if s is not request]
    assert [s.attributes["db.system"] for s in children if s.attributes] == ["redis"]
    assert all(
        s.parent is not None and s.parent.span_id == request.context.span_id for s in children
    )


async def test_a_request_its_sampler_does_not_keep_records_nothing_but_carries_its_trace_on(
    spans: _SpansOfOneTest,
    traced_client: httpx.AsyncClient,
    users: UserFactory,
    clean_db: AsyncEngine,
) -> None:
    user = await users.create()
    client_trace = secrets.token_hex(16)
    unsampled = {**user.headers, "traceparent": f"00-{client_trace}-{secrets.token_hex(8)}-00"}
    spans.clear()

    created = await traced_client.post("/orders/", json=order_body(), headers=unsampled)

    assert created.status_code == 201
    # Neither the request nor anything beneath it (SQL, Redis) became a span, or a trace of its own.
    assert spans.get_finished_spans() == ()
    async with clean_db.connect() as connection:
        traceparent = await connection.scalar(
            text(
                "SELECT traceparent FROM outbox_events"
                " WHERE payload->>'order_id' = :id AND event_type = 'new_order'"
            ),
            {"id": created.json()["id"]},
        )
    # The pipeline continues the client's trace, unsampled, so it records nothing either.
    assert traceparent.startswith(f"00-{client_trace}-")
    assert traceparent.endswith("-00")


async def test_excluded_paths_get_no_span_and_nothing_beneath_them_does(
    spans: _SpansOfOneTest,
    settings: ApiProcessSettings,
    clean_db: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "health/.*,metrics")
    async with running_app(settings) as (client, _):
        ready = await client.get("/health/ready")
        traced = await client.get("/orders/user/1/")

    assert ready.status_code == 200
    assert traced.status_code == 401
    # The readiness probe's SQL and Redis pings made no spans; the order list's request did.
    assert [span.name for span in spans.get_finished_spans()] == ["GET /orders/user/{user_id}/"]


async def test_graphql_operations_and_resolvers_are_traced_without_secrets(
    spans: _SpansOfOneTest, traced_client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create(password=PASSWORD)
    # The password inline in the document, as a careless client might write it.
    login = f'mutation Login {{ token(email: "{user.email}", password: "{PASSWORD}") {{ accessToken }} }}'
    token = (await traced_client.post("/graphql", json={"query": login})).json()["data"]["token"]
    create = "mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { id } }"
    created = await traced_client.post(
        "/graphql",
        json={
            "query": create,
            "variables": {
                "input": {"items": [{"productId": "sku-1", "quantity": 1, "price": "3.00"}]}
            },
        },
        headers={"Authorization": f"Bearer {token['accessToken']}"},
    )
    order_id = created.json()["data"]["createOrder"]["id"]

    [operation] = named(spans, "GraphQL Query: Create")
    [resolver] = named(spans, "GraphQL Resolving: createOrder")
    [http] = [
        s for s in named(spans, "POST /graphql") if s.context.trace_id == operation.context.trace_id
    ]
    assert parent_id(operation) == http.context.span_id
    assert parent_id(resolver) == operation.context.span_id
    assert (resolver.attributes or {}).get("orders.order_id") == order_id
    assert named(spans, "GraphQL Resolving: token")
    for span in spans.get_finished_spans():
        for key, value in (span.attributes or {}).items():
            assert "password" not in key.lower(), span.name
            assert "authorization" not in key.lower(), span.name
            assert PASSWORD not in str(value), span.name
            assert "Bearer" not in str(value), span.name
            assert not JWT.search(str(value)), span.name


def test_log_lines_carry_the_trace_and_span_of_their_unit_of_work(
    spans: _SpansOfOneTest, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(AppSettings(log_format=LogFormat.JSON))
    logger = logging.getLogger("orders.test")

    with trace.get_tracer(__name__).start_as_current_span("unit of work") as span:
        logger.warning("inside")
    logger.warning("outside")

    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines()[-2:])
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
    )
    assert "trace_id" not in outside
    assert "span_id" not in outside


# The maintained instrumentations, by the names OTEL_PYTHON_DISABLED_INSTRUMENTATIONS knows them by.
INSTRUMENTATIONS = ("sqlalchemy", "aio-pika", "redis")

# Run in a fresh interpreter: the app with its lifespan, a user and an order, then what tracing left.
_PROBE = """
import asyncio, json, threading
from opentelemetry import trace
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from api.settings import get_api_settings
from infra.tracing import tracing_enabled
from tests.support.app import running_app

async def main():
    async with running_app(get_api_settings()) as (client, resources):
        email = "probe-" + str(id(client)) + "@example.com"
        await client.post("/register/", json={"email": email, "password": "probe-password-1"})
        token = await client.post("/token", data={"username": email, "password": "probe-password-1"})
        headers = {"Authorization": "Bearer " + token.json()["access_token"]}
        created = await client.post("/orders/", json={"items": [{"product_id": "p", "quantity": 1, "price": "1.00"}]}, headers=headers)
        assert created.status_code == 201, created.text
        with trace.get_tracer("probe").start_as_current_span("probe") as span:
            recording = span.is_recording()
        # The Redis instrumentation wraps the client's methods (wrapt keeps the original beside).
        redis_instrumented = hasattr(resources.redis.execute_command, "__wrapped__")
    print(json.dumps({
        "enabled": tracing_enabled(),
        "provider": type(trace.get_tracer_provider()).__name__,
        "instrumented": {
            "sqlalchemy": SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry,
            "aio-pika": AioPikaInstrumentor().is_instrumented_by_opentelemetry,
            "redis": redis_instrumented,
        },
        "span_recorded": recording,
        "threads": sorted(t.name for t in threading.enumerate()),
    }))

asyncio.run(main())
"""


def probe(env: dict[str, str]) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Its one line (the console exporter, when on, prints spans around it).
    [line] = [line for line in done.stdout.splitlines() if line.startswith('{"enabled"')]
    result: dict[str, object] = json.loads(line)
    return result


@pytest.mark.parametrize("exporter", [None, "console"])
def test_tracing_off_adds_no_spans_and_no_exporter_thread(
    exporter: str | None, database_url: str, key_dir: Path, redis_prefix: str
) -> None:
    env = {
        **app_env(database_url=database_url, key_dir=key_dir, redis_prefix=redis_prefix),
        "OUTBOX_RELAY_ENABLED": "false",
    }
    if exporter:  # the same probe with tracing on, so that the checks below are seen to bite
        env["OTEL_TRACES_EXPORTER"] = exporter

    found = probe(env)

    threads = found["threads"]
    assert isinstance(threads, list)
    exporter_threads = [name for name in threads if name.startswith("Otel")]
    if exporter is None:
        assert found["enabled"] is False
        assert found["provider"] == "ProxyTracerProvider"
        assert found["instrumented"] == dict.fromkeys(INSTRUMENTATIONS, False)
        assert found["span_recorded"] is False
        assert exporter_threads == []
    else:
        assert found["enabled"] is True
        assert found["instrumented"] == dict.fromkeys(INSTRUMENTATIONS, True)
        assert found["span_recorded"] is True
        assert exporter_threads == ["OtelBatchSpanRecordProcessor"]


@pytest.mark.parametrize(
    ("disabled", "left_out"),
    [
        ("redis", {"redis"}),
        ("sqlalchemy, aio-pika", {"sqlalchemy", "aio-pika"}),
        ("*", set(INSTRUMENTATIONS)),
    ],
)
def test_instrumentations_named_in_otel_python_disabled_instrumentations_are_left_out(
    disabled: str, left_out: set[str], database_url: str, key_dir: Path, redis_prefix: str
) -> None:
    env = {
        **app_env(database_url=database_url, key_dir=key_dir, redis_prefix=redis_prefix),
        "OUTBOX_RELAY_ENABLED": "false",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": disabled,
    }

    found = probe(env)

    assert found["instrumented"] == {name: name not in left_out for name in INSTRUMENTATIONS}
    # Tracing itself stays on.
    assert found["span_recorded"] is True
