"""The hot path: `GET /orders/{order_id}/` with a valid bearer token, answered below the routing.

A cached read is the most frequent request this service gets, and most of its cost was framework
overhead (routing, dependency solving) rather than work. This ASGI layer skips only that: it calls
the same read as the route (`edge.order_cache.read_order`), spends the same rate limit (in
the same Redis round trip as the cache read, `CountedOrderCache`), and answers with the route's own
response builder and error table. What it does not handle (no or bad token, a malformed id, any
other path) falls through untouched to the FastAPI route, which documents the whole behaviour in the
OpenAPI; tests/api/test_fastpath.py shows both answer byte for byte the same.
"""

from __future__ import annotations

import re
import uuid

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import known_error_response
from api.routes.orders import order_read_response
from domain.users.errors import InvalidToken
from edge.auth import authorization_header, bearer_token, rate_limit_identity, request_header
from edge.order_cache import read_order
from edge.ratelimit import rate_limit_headers
from edge.resources import Resources
from edge.scope import ROUTE_TEMPLATE

_ORDER_PATH = re.compile(r"/orders/([0-9a-fA-F-]{32,36})/?")


class CachedOrderFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = _ORDER_PATH.fullmatch(scope["path"])
            if match is not None and await self._serve(scope, receive, send, match.group(1)):
                return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, order_id_text: str) -> bool:
        resources: Resources = scope["app"].state.resources
        token = bearer_token(authorization_header(scope))
        if token is None:
            return False
        try:
            verified = resources.tokens.verify_token(token)
            order_id = uuid.UUID(order_id_text)
        except (InvalidToken, ValueError):
            return False
        if verified.manages_orders:
            # A staff token: the route checks the role (served from the cache there too).
            return False
        user_id = verified.user_id
        cache = resources.counted_order_cache(rate_limit_identity(user_id, ""))
        scope[ROUTE_TEMPLATE] = "/orders/{order_id}/"
        try:
            async with resources.unit_of_work(read_only=True) as uow:
                read = await read_order(uow=uow, cache=cache, user_id=user_id, order_id=order_id)
        except Exception as exc:
            error_response = known_error_response(exc)
            if error_response is None:  # a bug: the app's last-resort handler answers it
                raise
            response: Response = error_response
        else:
            limits = rate_limit_headers(cache.verdict) if cache.verdict is not None else {}
            response = order_read_response(read, limits, request_header(scope, b"if-none-match"))
        await response(scope, receive, send)
        return True
