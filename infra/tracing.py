"""OpenTelemetry tracing, set up from the standard OTEL_* environment variables and nothing else.

Off unless OTEL_TRACES_EXPORTER names an exporter (`otlp`, `console`, or both, comma-separated) and
OTEL_SDK_DISABLED is not `true`. Off means off: no tracer provider, no instrumentation, no exporter
thread, no span. On, each process calls `configure_tracing` once from its composition root; the SDK
reads the rest itself (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER/_ARG,
OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_BSP_*), and leaves out the
maintained instrumentations named in OTEL_PYTHON_DISABLED_INSTRUMENTATIONS (`instrumentation_disabled`).

What is instrumented here, process-wide: SQLAlchemy engines built afterwards (every statement) and
aio-pika (publish and consume, the trace context in the message headers). The rest is instrumented
per object by the code that builds it: the FastAPI app, the API's Redis client, the GraphQL schema
and the taskiq brokers (`instrument_broker`).

One trace follows an order: the request's `traceparent` is stored with its outbox event
(`current_traceparent`), the relay publishes the event under it (`context_from_traceparent`), the
AMQP headers carry it to the consumer, the task's labels to the worker.
"""

from __future__ import annotations

import os
import sys

from opentelemetry import context, trace
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.environment_variables import (
    OTEL_PYTHON_DISABLED_INSTRUMENTATIONS,
)
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session
from taskiq import AsyncBroker
from taskiq.middlewares.opentelemetry_middleware import OpenTelemetryMiddleware

from infra.correlation import LOGGED_ATTRIBUTES, log_fields

_provider: TracerProvider | None = None
# The stored and forwarded form is always W3C traceparent, whatever OTEL_PROPAGATORS says.
_TRACECONTEXT = TraceContextTextMapPropagator()


def configure_tracing(default_service_name: str) -> TracerProvider | None:
    """This process's tracer provider, built from the environment on the first call; None when off.

    `default_service_name` (`orders-api`, ...) applies unless OTEL_SERVICE_NAME or a `service.name`
    in OTEL_RESOURCE_ATTRIBUTES names the service.
    """
    if _provider is None:
        exporters = _exporters_from_env()
        if exporters:
            provider = TracerProvider(resource=_resource(default_service_name))
            for exporter in exporters:
                # Exported from a background thread, in batches: nothing waits on the exporter.
                provider.add_span_processor(BatchSpanProcessor(exporter))
            install_tracing(provider)
    return _provider


def install_tracing(provider: TracerProvider) -> None:
    """Make `provider` this process's tracer provider and instrument the process-wide libraries.

    OpenTelemetry's provider is global and set once, so tracing stays on for the process's lifetime.
    """
    global _provider
    _provider = provider
    trace.set_tracer_provider(provider)
    if not instrumentation_disabled("sqlalchemy"):
        # The instrumentation declares SQLAlchemy < 2.1; its event hooks are unchanged in 2.1.
        SQLAlchemyInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    if not instrumentation_disabled("aio-pika"):
        AioPikaInstrumentor().instrument(tracer_provider=provider)
    # Order history events reach the outbox through a trigger (migration 2026_12_06_webhooks) that
    # reads the transaction's trace context from `orders.traceparent`: webhooks continue the trace
    # of the change. One statement more per traced (sampled) transaction, none otherwise.
    if not event.contains(Session, "after_begin", _carry_traceparent):
        event.listen(Session, "after_begin", _carry_traceparent)


_SET_TRACEPARENT = text("SELECT set_config('orders.traceparent', :traceparent, true)")


def _carry_traceparent(_session: Session, _transaction: object, connection: Connection) -> None:
    if not trace.get_current_span().is_recording():
        return
    traceparent = current_traceparent()
    if traceparent:
        connection.execute(_SET_TRACEPARENT, {"traceparent": traceparent})


def instrumentation_disabled(name: str) -> bool:
    """Whether OTEL_PYTHON_DISABLED_INSTRUMENTATIONS leaves out the maintained instrumentation `name`
    (`sqlalchemy`, `redis`, `aio-pika`: their entry points' names), read as OpenTelemetry's
    auto-instrumentation reads it: comma-separated names, `*` for all of them. Our own spans (the
    HTTP server's, the relay's), Strawberry's and taskiq's are not instrumentations of that kind.
    Leaving out `aio-pika` ends a trace at the queue: its headers carry the context across."""
    listed = {
        item.strip()
        for item in os.environ.get(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, "").split(",")
    }
    return name in listed or "*" in listed


def tracing_enabled() -> bool:
    return _provider is not None


def instrument_broker(broker: AsyncBroker) -> None:
    """taskiq's own OpenTelemetry middleware: a span for each kick (its context goes into the task's
    labels) and one for each execution (continuing the context found in the labels)."""
    if _provider is not None:
        broker.add_middlewares(OpenTelemetryMiddleware(tracer_provider=_provider))


def annotate(**attributes: object) -> None:
    """Business attributes (`orders.order_id`, ...) on the current span, if it is being recorded;
    `order_id` and `user_id` also on every later log line of the unit of work."""
    logged = {
        key: value if isinstance(value, int) else str(value)
        for key, value in attributes.items()
        if key in LOGGED_ATTRIBUTES
    }
    if logged:
        log_fields.set({**(log_fields.get() or {}), **logged})
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(
            {
                f"orders.{key}": value if isinstance(value, int | str) else str(value)
                for key, value in attributes.items()
            }
        )


def current_traceparent() -> str | None:
    """The current span's W3C `traceparent`, to be stored with work continued elsewhere."""
    carrier: dict[str, str] = {}
    _TRACECONTEXT.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> context.Context | None:
    """The context to continue a stored `traceparent` in; None when there is none to continue."""
    if not traceparent:
        return None
    extracted = _TRACECONTEXT.extract({"traceparent": traceparent})
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def _exporters_from_env() -> list[SpanExporter]:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = os.environ.get("OTEL_TRACES_EXPORTER", "").lower().split(",")
    return [_exporter(name.strip()) for name in names if name.strip() not in ("", "none")]


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        # One span per line (the SDK's default is indented JSON), so output stays line-oriented.
        return ConsoleSpanExporter(out=sys.stdout, formatter=_one_line)
    if name == "otlp":
        # Imported only when asked for: protobuf and the exporters cost ~0.1 s at every start.
        from infra.otlp import otlp_span_exporter

        protocol = (
            os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"  # the specification's default
        ).strip()
        return otlp_span_exporter(protocol)
    msg = f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (use otlp, console or none)"
    raise ValueError(msg)


def _one_line(span: ReadableSpan) -> str:
    line: str = span.to_json(indent=None)
    return line + "\n"


def _resource(default_service_name: str) -> Resource:
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; without either naming the
    # service it says "unknown_service", which is where our default goes.
    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: default_service_name}))
    return detected
