"""Our OTLP span encoding (infra/otlp.py) produces the SDK's export request, byte for byte."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as sdk_encode_spans,
)
from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as grpc_exporter
from opentelemetry.exporter.otlp.proto.http import trace_exporter as http_exporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    TraceState,
)

from infra.otlp import encode_spans, otlp_span_exporter


def _spans(resource: Resource) -> list[ReadableSpan]:
    caught = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(caught))
    api = provider.get_tracer("api.tracing")
    redis = provider.get_tracer("opentelemetry.instrumentation.redis", "0.66b1", "https://s/1.11.0")
    remote = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    with api.start_as_current_span(
        "GET /orders/{order_id}/",
        context=trace.set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.response.status_code": 200},
    ) as server:
        with redis.start_as_current_span("EVALSHA", kind=SpanKind.CLIENT) as command:
            command.set_attributes(
                {
                    "db.system": "redis",
                    "db.redis.args_length": 12,
                    "ratio": 0.25,
                    "cached": True,
                    "keys": ("a", "b"),
                    "ints": [1, 2, 3],
                }
            )
        server.add_event("retry", {"attempt": 2})
        server.set_status(StatusCode.ERROR, "upstream timed out")
    linked = api.start_span("relay pass", kind=SpanKind.PRODUCER, links=[Link(remote, {"n": 1})])
    linked.end()
    for kind in (SpanKind.INTERNAL, SpanKind.CONSUMER):
        api.start_span(f"a {kind.name} span", kind=kind).end()
    return list(caught.get_finished_spans())


@pytest.mark.parametrize(
    "resources",
    [
        pytest.param([Resource({"service.name": "orders-api"})], id="one resource"),
        pytest.param(
            [Resource({"service.name": "orders-api"}), Resource({"service.name": "orders-worker"})],
            id="two resources",
        ),
        pytest.param(
            # Equal but distinct resource objects share one group, as in the SDK's encoding.
            [Resource({"service.name": "orders-api"}), Resource({"service.name": "orders-api"})],
            id="equal resources",
        ),
    ],
)
def test_request_is_the_sdks_byte_for_byte(resources: Sequence[Resource]) -> None:
    spans = [span for resource in resources for span in _spans(resource)]
    spans = spans[::2] + spans[1::2]  # interleaved scopes and resources

    ours = encode_spans(spans).SerializeToString()

    assert ours == sdk_encode_spans(spans).SerializeToString()


def test_an_attribute_it_cannot_encode_is_left_out_not_the_span() -> None:
    spans = _spans(Resource({"service.name": "orders-api"}))
    bad = spans[0]
    bad._attributes = {**dict(bad.attributes or {}), "odd": object()}  # type: ignore[dict-item]

    ours = encode_spans(spans).SerializeToString()

    assert ours == sdk_encode_spans(spans).SerializeToString()
    assert b"odd" not in ours


def test_the_otlp_http_exporter_sends_our_encoding_to_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[ExportTraceServiceRequest] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(ExportTraceServiceRequest.FromString(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    spans = _spans(Resource({"service.name": "orders-api"}))
    try:
        exporter = otlp_span_exporter("http/protobuf")
        result = exporter.export(spans)
    finally:
        server.shutdown()

    assert http_exporter.__dict__["encode_spans"] is encode_spans
    assert result is SpanExportResult.SUCCESS
    assert received == [sdk_encode_spans(spans)]


def test_the_otlp_grpc_exporter_encodes_with_ours() -> None:
    exporter = otlp_span_exporter("grpc")

    assert isinstance(exporter, grpc_exporter.OTLPSpanExporter)
    assert grpc_exporter.__dict__["encode_spans"] is encode_spans


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="http/json"):
        otlp_span_exporter("http/json")
