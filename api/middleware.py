"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a copy per request)."""

from __future__ import annotations

import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problem_details import problem_response
from edge.errors import BODY_TOO_LARGE, ErrorCode
from edge.scope import REQUEST_ID, ROUTE_TEMPLATE
from edge.security import SECURITY_HEADERS, STRICT_CSP
from infra.correlation import accept_or_new, correlation_id
from infra.metrics import HTTP_LATENCY, HTTP_REQUESTS

# On every answer. A page that needs more (Swagger UI, GraphiQL) sets its own Content-Security-Policy,
# which is then left alone; JSON answers get the strictest one.
_SECURITY_HEADERS = [
    (name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()
]
_DEFAULT_CSP = (b"content-security-policy", STRICT_CSP.encode())


_TOO_LARGE = "Request body too large"


class EdgeMiddleware:
    """Request id, body size limit and security headers, in one pass over each request.

    The request id is taken from `X-Request-ID` when it is sane (or made), held in the correlation
    context variable for the domain (it travels into the `new_order` event), and returned.
    A body over `max_body_bytes` is refused with 413: at once when its Content-Length says so, or as
    soon as a streamed body crosses the limit.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, length = None, None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value
            elif name == b"content-length":
                length = value
        request_id = accept_or_new(incoming.decode("latin-1") if incoming else None)
        scope[REQUEST_ID] = request_id
        added = [(b"x-request-id", request_id.encode()), *_SECURITY_HEADERS]

        status = 500  # what the client gets if the app fails before answering

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append(_DEFAULT_CSP)
                message["headers"] = headers + added
            await send(message)

        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            too_large = problem_response(
                scope, code=ErrorCode.BAD_REQUEST, reason=BODY_TOO_LARGE, detail=_TOO_LARGE
            )
            await too_large(scope, receive, send_with_headers)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(413, _TOO_LARGE)
            return message

        token = correlation_id.set(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive_within_limit, send_with_headers)
        finally:
            correlation_id.reset(token)
            _observe(scope, status, time.perf_counter() - started)


def route_template(scope: Scope) -> str | None:
    """The template of the route that answered (`/orders/{order_id}/`), once it has; None if none did."""
    route = scope.get("route")
    template: str | None = getattr(route, "path", None) or scope.get(ROUTE_TEMPLATE)
    return template


def _observe(scope: Scope, status: int, seconds: float) -> None:
    # Labelled by route template, never by raw path: ids in paths would explode the label set.
    template = route_template(scope) or "unmatched"
    HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
    HTTP_LATENCY.labels(scope["method"], template).observe(seconds)
