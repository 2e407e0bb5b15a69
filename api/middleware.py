"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a copy per request)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.infra.correlation import accept_or_new, correlation_id


class RequestIdMiddleware:
    """Takes `X-Request-ID` from the request (or makes one), exposes it to the domain, returns it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = accept_or_new(incoming.decode("latin-1") if incoming else None)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = correlation_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            correlation_id.reset(token)
