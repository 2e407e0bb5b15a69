"""The hot path: `GET /orders/{order_id}/` with a valid bearer token, answered below the routing.

A cached read is the most frequent request this service gets, and most of its cost was framework
overhead (routing, dependency solving) rather than work. This ASGI layer skips only that: it calls
the same read as the route (`edge.order_cache.read_order`), spends the same rate limit (in
the same Redis round trip as the cache read, `CountedOrderCache`), and answers with the route's own
response builder and error table. What it does not handle (no or bad token, a malformed id, any
other path) falls through untouched to the FastAPI route, which documents the whole behaviour in the
OpenAPI; tests/api/test_fastpath.py shows both answer byte for byte the same.

It reproduces the route's dependencies by hand, so `check_route` refuses to start the app when the
route's dependencies, parameters or response model are not the ones reproduced here
(docs/decisions/rest-cached-read-fast-path.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api import deps
from api.errors import known_error_response
from api.ratelimit import limit_per_user
from api.routes import orders
from api.routes.orders import order_read_response
from domain.orders.schemas import OrderOut
from domain.users.errors import InvalidToken
from edge.auth import rate_limit_identity, request_header, verified_token
from edge.order_cache import read_order
from edge.ratelimit import rate_limit_headers
from edge.resources import Resources
from edge.scope import ROUTE_TEMPLATE

_ORDER_PATH = re.compile(r"/orders/([0-9a-fA-F-]{32,36})/?")
ROUTE_PATH = "/orders/{order_id}/"

# The route this layer stands in front of, as `_serve` reproduces it: its dependencies, depth first
# (the rate limit per user, the bearer token verified into the caller, the shared resources), its
# parameters (kind, name, alias) and its response model. Change one there, change `_serve` and this.
REPRODUCED_DEPENDENCIES: tuple[Callable[..., Any], ...] = (
    limit_per_user,
    deps.get_resources,
    deps.get_current_caller,
    deps.get_resources,
    deps.bearer_scheme,
    deps.get_resources,
)
REPRODUCED_PARAMETERS = (
    ("path", "order_id", "order_id"),
    ("header", "if_none_match", "If-None-Match"),
)
REPRODUCED_RESPONSE_MODEL = OrderOut


class RouteChanged(RuntimeError):
    """The route no longer matches what the fast path reproduces: the app refuses to start."""


def _dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependencies(sub)


def _parameters(dependant: Dependant) -> tuple[tuple[str, str, str | None], ...]:
    kinds = {
        "path": dependant.path_params,
        "query": dependant.query_params,
        "header": dependant.header_params,
        "cookie": dependant.cookie_params,
        "body": dependant.body_params,
    }
    return tuple(
        (kind, param.name, param.field_info.alias or param.name)
        for kind, params in kinds.items()
        for param in params
    )


def check_route(route: APIRoute | None = None) -> None:
    """Raise `RouteChanged` unless `GET /orders/{order_id}/` is still the route `_serve` reproduces."""
    if route is None:
        found = [
            candidate
            for candidate in orders.router.routes
            if isinstance(candidate, APIRoute)
            and candidate.path == ROUTE_PATH
            and "GET" in (candidate.methods or ())
        ]
        if len(found) != 1:
            msg = f"the fast path stands in front of GET {ROUTE_PATH}, which is gone"
            raise RouteChanged(msg)
        route = found[0]
    problems = []
    if route.endpoint is not orders.get_order:
        problems.append(f"its endpoint is {route.endpoint!r}")
    if tuple(_dependencies(route.dependant)) != REPRODUCED_DEPENDENCIES:
        problems.append(f"its dependencies are {list(_dependencies(route.dependant))}")
    if _parameters(route.dependant) != REPRODUCED_PARAMETERS:
        problems.append(f"its parameters are {_parameters(route.dependant)}")
    if route.response_model is not REPRODUCED_RESPONSE_MODEL:
        problems.append(f"its response model is {route.response_model!r}")
    if problems:
        msg = (
            f"GET {ROUTE_PATH} changed under api/fastpath.py, which reproduces it: "
            + "; ".join(problems)
            + ". Make the fast path do what the route now does, then update its REPRODUCED_*."
        )
        raise RouteChanged(msg)


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
        try:
            verified = verified_token(scope, resources.tokens)
            order_id = uuid.UUID(order_id_text)
        except (InvalidToken, ValueError):
            return False
        if verified is None:
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
            error_response = known_error_response(exc, scope)
            if error_response is None:  # a bug: the app's last-resort handler answers it
                raise
            response: Response = error_response
        else:
            limits = rate_limit_headers(cache.verdict) if cache.verdict is not None else {}
            response = order_read_response(read, limits, request_header(scope, b"if-none-match"))
        await response(scope, receive, send)
        return True
