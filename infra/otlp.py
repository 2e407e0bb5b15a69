"""The OTLP span exporters (HTTP and gRPC), with batches encoded in place.

The SDK's `encode_spans` builds every protobuf message from keyword arguments and then copies it
into its parent, and hashes the resource (JSON-dumping its attributes) once per span, on the
exporter's thread but holding the GIL, so the event loop waits through it. Here each message is
added to its parent and filled in place, and each resource and scope is looked up once per batch.
The request is the same message, byte for byte (tests/unit/test_otlp_encoding.py); the rare parts
(events, links, array or mapping values) go through the SDK's own encoders. Why, the measured gain
and when to remove it: docs/decisions/otlp-span-encoder.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, TypeAlias

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_instrumentation_scope,
    _encode_key_value,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _encode_events,
    _encode_links,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, SpanFlags
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

_logger = logging.getLogger(__name__)
# A ScopeSpans message's repeated `spans`: protobuf ships no type stubs for its containers.
_Spans: TypeAlias = Any

_KINDS = {
    SpanKind.INTERNAL: Span.SpanKind.SPAN_KIND_INTERNAL,
    SpanKind.SERVER: Span.SpanKind.SPAN_KIND_SERVER,
    SpanKind.CLIENT: Span.SpanKind.SPAN_KIND_CLIENT,
    SpanKind.PRODUCER: Span.SpanKind.SPAN_KIND_PRODUCER,
    SpanKind.CONSUMER: Span.SpanKind.SPAN_KIND_CONSUMER,
}
_LOCAL_PARENT = SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_REMOTE_PARENT = _LOCAL_PARENT | SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK


def encode_spans(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The export request for `spans`: grouped by resource, then by instrumentation scope, each
    group in the order first seen, as the SDK groups them."""
    request = ExportTraceServiceRequest()
    # Resources and scopes compare by value (equal ones share a group); each distinct object is
    # resolved once per batch through its identity.
    by_identity: dict[tuple[int, int], _Spans] = {}
    by_value: dict[Resource, tuple[ResourceSpans, dict[InstrumentationScope | None, _Spans]]] = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope or None
        group = by_identity.get((id(resource), id(scope)))
        if group is None:
            if resource not in by_value:
                resource_spans = request.resource_spans.add()
                resource_spans.resource.CopyFrom(_encode_resource(resource))
                resource_spans.schema_url = resource.schema_url
                by_value[resource] = (resource_spans, {})
            resource_spans, scopes = by_value[resource]
            if scope not in scopes:
                scope_spans = resource_spans.scope_spans.add()
                if scope is None:
                    scope_spans.scope.SetInParent()
                else:
                    scope_spans.scope.CopyFrom(_encode_instrumentation_scope(scope))
                    if scope.schema_url:
                        scope_spans.schema_url = scope.schema_url
                scopes[scope] = scope_spans.spans
            group = by_identity[(id(resource), id(scope))] = scopes[scope]
        _encode_span(span, group.add())
    return request


def _encode_span(span: ReadableSpan, encoded: Span) -> None:
    context = span.get_span_context()
    assert context is not None  # every SDK span has one
    encoded.trace_id = context.trace_id.to_bytes(16, "big")
    encoded.span_id = context.span_id.to_bytes(8, "big")
    if context.trace_state:
        encoded.trace_state = ",".join(
            f"{key}={value}" for key, value in context.trace_state.items()
        )
    parent = span.parent
    if parent:
        encoded.parent_span_id = parent.span_id.to_bytes(8, "big")
    encoded.name = span.name
    encoded.kind = _KINDS[span.kind]
    if span.start_time is not None:
        encoded.start_time_unix_nano = span.start_time
    if span.end_time is not None:
        encoded.end_time_unix_nano = span.end_time
    attributes = span.attributes
    if attributes:
        _encode_attributes(attributes, encoded)
    events, links, status = span.events, span.links, span.status
    if events:
        encoded.events.extend(_encode_events(events) or ())
    if links:
        encoded.links.extend(_encode_links(links))
    encoded.status.SetInParent()
    if status.status_code.value:
        encoded.status.code = status.status_code.value  # type: ignore[assignment]
    if status.description:
        encoded.status.message = status.description
    if span.dropped_attributes:
        encoded.dropped_attributes_count = span.dropped_attributes
    if span.dropped_events:
        encoded.dropped_events_count = span.dropped_events
    if span.dropped_links:
        encoded.dropped_links_count = span.dropped_links
    encoded.flags = _REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT


def _encode_attributes(attributes: Mapping[str, object], encoded: Span) -> None:
    for key, value in attributes.items():
        if isinstance(value, str):
            pair = encoded.attributes.add()
            pair.key, pair.value.string_value = key, value
        elif isinstance(value, bool):  # before int: a bool is an int too
            pair = encoded.attributes.add()
            pair.key, pair.value.bool_value = key, value
        elif isinstance(value, int):
            pair = encoded.attributes.add()
            pair.key, pair.value.int_value = key, value
        elif isinstance(value, float):
            pair = encoded.attributes.add()
            pair.key, pair.value.double_value = key, value
        else:
            try:
                encoded.attributes.append(_encode_key_value(key, value))
            except Exception:  # as the SDK does: the attribute is left out, the span kept
                _logger.exception("Failed to encode key %s", key)


def otlp_span_exporter(protocol: str) -> SpanExporter:
    """The SDK's OTLP span exporter for `protocol` (`http/protobuf` or `grpc`), encoding its
    batches with `encode_spans` above."""
    module: ModuleType
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http import trace_exporter as module
    elif protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as module
    else:
        msg = f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: use http/protobuf or grpc"
        raise ValueError(msg)
    # Both exporters look `encode_spans` up in their module at each export, and the HTTP one has no
    # other hook for it; the rest (retries, compression, size limit, their metrics) stays theirs.
    module.encode_spans = encode_spans  # type: ignore[attr-defined]
    exporter: SpanExporter = module.OTLPSpanExporter()
    return exporter
