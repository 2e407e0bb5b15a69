"""The hot path: `GET /orders/{order_id}/` cache hits answered without the framework's routing.

A cached read is the most frequent request this service gets, and most of its cost was framework
overhead (routing, dependency solving) rather than work. This ASGI layer serves exactly one case
itself — a valid bearer token, the order in the cache, owned by the caller, within the rate limit —
with the bytes and headers the route would have sent. Everything else (no or bad token, a miss,
someone else's order, over the limit, Redis down, any other path) falls through untouched to the
FastAPI route, which implements the whole behaviour and documents it in the OpenAPI.
"""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware import ROUTE_TEMPLATE
from api.ratelimit import RATE_LIMIT_VERDICT, rate_limit_headers
from domain.users.errors import InvalidToken
from edge.resources import Services

_ORDER_PATH = re.compile(r"/orders/([0-9a-fA-F-]{32,36})/?")


class CachedOrderFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = _ORDER_PATH.fullmatch(scope["path"])
            if match is not None and await self._serve_hit(scope, match.group(1), send):
                return
        await self.app(scope, receive, send)

    async def _serve_hit(self, scope: Scope, order_id_text: str, send: Send) -> bool:
        services: Services = scope["app"].state.services
        if services.order_cache is None:
            return False
        token = _bearer_token(scope)
        if token is None:
            return False
        try:
            user_id = services.tokens.verify(token)
            order_id = uuid.UUID(order_id_text)
        except (InvalidToken, ValueError):
            return False
        headers = [(b"content-type", b"application/json"), (b"x-cache", b"HIT")]
        cache = services.order_cache
        if services.limiter is None:
            cached = await cache.get(order_id)
        else:
            # One Redis round trip for the limit and the cached order together.
            verdict, cached = await cache.get_counting(
                order_id,
                limiter=services.limiter,
                rule=services.rate_limits.default,
                identity=f"user:{user_id}",
            )
            # Counted now, so the route must not count this request again if it falls through.
            scope.setdefault("state", {})[RATE_LIMIT_VERDICT] = verdict
            if verdict is not None:
                if not verdict.allowed:
                    return False
                headers += [
                    (k.lower().encode(), v.encode()) for k, v in rate_limit_headers(verdict).items()
                ]
        if cached is None or not cached.readable_by(user_id):
            return False
        headers.append((b"content-length", str(len(cached.body)).encode()))
        scope[ROUTE_TEMPLATE] = "/orders/{order_id}/"
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body})
        return True


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" and token else None
    return None
