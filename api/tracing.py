"""The HTTP server span of each request, when tracing is on (infra/tracing.py).

Ours rather than an instrumentation's, for cost (docs/decisions/http-server-span.md): FastAPI's
native telemetry and the ASGI instrumentation both build a request's attributes, parse its headers
and wrap its send before the sampler speaks. Here the sampler decides first, and a request it does
not keep costs one span context: its instrumentations beneath (SQL, Redis, GraphQL) are suppressed,
since every built-in sampler decides a child the way it decided its root (parent-based ones by the parent, ratio ones by the shared trace id), so they would record
nothing anyway. Its `traceparent` (sampled flag off) still travels with its outbox event.
A kept request gets the stable HTTP semantic conventions' name (`GET /orders/{order_id}/`: method and
route template, which the router, or the fast path, leaves in the scope) and attributes; never
headers, the query string or bodies.
"""

from __future__ import annotations

from opentelemetry import context, propagate, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from opentelemetry.util.http import get_excluded_urls
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import route_template


class ServerSpans:
    def __init__(self, app: ASGIApp, *, tracer_provider: trace.TracerProvider) -> None:
        self.app = app
        self.tracer: Tracer = tracer_provider.get_tracer(__name__)
        # The same variables as the maintained instrumentations: OTEL_PYTHON_FASTAPI_EXCLUDED_URLS,
        # else OTEL_PYTHON_EXCLUDED_URLS (comma-separated regular expressions searched in the path).
        self.excluded = get_excluded_urls("FASTAPI")
        # The headers the configured propagators read (traceparent, tracestate, baggage by default).
        self.propagated = frozenset(name.encode() for name in propagate.get_global_textmap().fields)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # WebSocket connections (GraphQL subscriptions) live for hours: each operation on one is a
        # trace of its own (graph/tracing.py), not a child of one endless connection span.
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.excluded.url_disabled(scope["path"]):
            token = context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
            try:
                await self.app(scope, receive, send)
            finally:
                context.detach(token)
            return
        parent = self._incoming(scope)
        span = self.tracer.start_span(scope["method"], context=parent, kind=SpanKind.SERVER)
        current = trace.set_span_in_context(span, parent)
        if not span.is_recording():
            token = context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, current))
            try:
                await self.app(scope, receive, send)
            finally:
                context.detach(token)
            return
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        error = None
        token = context.attach(current)
        try:
            await self.app(scope, receive, send_noting_status)
        except BaseException as exc:
            span.record_exception(exc)
            error = type(exc).__qualname__
            raise
        finally:
            context.detach(token)
            _describe(span, scope, status, error)
            span.end()

    def _incoming(self, scope: Scope) -> context.Context | None:
        """The client's trace context, if its request carries one; None (a new trace) otherwise."""
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in self.propagated
        }
        return propagate.extract(carrier) if carrier else None


def _describe(span: trace.Span, scope: Scope, status: int, error: str | None) -> None:
    method = scope["method"]
    route = route_template(scope)
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.scheme": scope.get("scheme", "http"),
        "url.path": scope["path"],
    }
    if route is not None:
        span.update_name(f"{method} {route}")
        attributes["http.route"] = route
    if status:
        attributes["http.response.status_code"] = status
    client = scope.get("client")
    if client:
        attributes["client.address"] = client[0]
    if error is None and (status >= 500 or not status):
        error = str(status) if status else "incomplete_response"
    if error is not None:
        attributes["error.type"] = error
        span.set_status(StatusCode.ERROR)
    span.set_attributes(attributes)
