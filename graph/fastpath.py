"""The hot GraphQL read: `order(id:)` of one order's own fields, answered below Strawberry.

Strawberry and graphql-core spend most of a cached read's CPU even with validation cached (the
request's parsing, context, extensions, execution's field-by-field completion); the gain and when
to remove this are in docs/decisions/graphql-order-fast-path.md. A query of this one shape, the
one a frontend's order page sends, skips only that:

- its document (by text, or by persisted-query hash, graph/persisted.py) is compiled once: validated
  with the endpoint's own rules, priced by graph/cost.py, reduced to the fields to copy;
- each request then does what the REST fast path does: the bearer token, one Redis round trip for
  the rate limit and the cached order together (`edge.order_cache.CountedOrderCache`), the same
  `edge.order_cache.read_order` as the resolver, the same objects it builds (`Order.from_domain`)
  completed with the schema's own serialisers, the same error shaping (graph/errors.py) and JSON
  encoding.

What it does not handle (no or bad token, any other document, a field with a resolver such as
`owner` or `history`, a variable that is not a UUID string, a hash this process has not seen, any
other transport) falls through untouched to Strawberry, which spends the rate limit itself:
tests/graph/test_fastpath.py shows both answer byte for byte the same, errors included. With tracing
on, its requests get the HTTP and Redis spans but no GraphQL operation spans.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from graphql import (
    GraphQLError,
    specified_rules,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry import Schema

from domain.ratelimit.budget import RateLimitExceeded
from domain.users.errors import InvalidToken
from edge.auth import rate_limit_identity, request_header, verified_token
from edge.order_cache import read_order
from edge.ratelimit import rate_limit_headers, rejection_headers
from edge.resources import Resources
from edge.scope import ROUTE_TEMPLATE
from graph.errors import log_errors, shape_error
from graph.fastpath_plan import Plan, compile_plan, complete, order_id_in
from graph.persisted import PersistedQueries, PersistedQueryRefused, requested_digest
from graph.types import Order

# The schema's extensions (graph/schema.py), each reproduced here or with nothing to reproduce for
# the documents this path answers; tests/graph/test_fastpath.py checks the schema has exactly these.
REPRODUCED_EXTENSIONS = {
    # `shape_error` on every error, as the extension shapes Strawberry's.
    "ErrorCodes": "graph.errors.shape_error",
    # The document priced by the same `measure`, refused past the costly share; `extensions.cost`.
    "QueryCost": "graph.cost.measure",
    # `parse(..., max_tokens=)` with the endpoint's limit.
    "MaxTokensLimiter": "graphql.parse",
    # Validated with graphql-core's rules and the endpoint's limit rules (`validation_rules`).
    "AddValidationRules": "graphql.validate",
    # Each document is judged once, its plan kept (`MAX_PLANS`).
    "ValidationCache": "GraphQLFastPath._plans",
    # Nothing: a plan admits only the order's own fields and `__typename`, never `__schema`/`__type`.
    "DisableIntrospection": "",
    "CachedIntrospection": "",
    # Each document is parsed once, its plan kept (`MAX_PLANS`).
    "ParsedDocuments": "GraphQLFastPath._plans",
    # Nothing: these requests get the HTTP and Redis spans, not GraphQL's operation spans.
    "GraphQLTracing": "",
}
# Longer documents are not this shape; they are not parsed twice.
MAX_DOCUMENT_CHARS = 2_000
# Documents judged (eligible or not) kept per process; past it, new ones just fall through.
MAX_PLANS = 1_000


class GraphQLFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        schema: Schema,
        validation_rules: list[Any],
        max_tokens: int,
        max_cost: int,
        persisted: PersistedQueries,
    ) -> None:
        self.app = app
        self.path = path
        self.schema = schema
        self.rules = [*specified_rules, *validation_rules]
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.persisted = persisted
        # Keyed by ("sha256", hash) or ("document", text): a text never passes for a hash.
        self._plans: dict[tuple[str, str], Plan | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "POST":
            if not (request_header(scope, b"content-type") or "").startswith("application/json"):
                await self.app(scope, receive, send)
                return
            body, receive = await _read_body(receive)
            request = _json_object(body) if body is not None else None
            if await self._serve(scope, receive, send, request):
                return
        elif method == "GET" and scope["query_string"]:
            request = _query_params(scope["query_string"])
            if await self._serve(scope, receive, send, request):
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, request: dict[str, Any] | None
    ) -> bool:
        if request is None:
            return False
        plan = self._plan_for(request, get=scope["method"] == "GET")
        if plan is None:
            return False
        order_id = order_id_in(plan, request.get("variables"))
        if order_id is None:
            return False
        resources: Resources = scope["app"].state.resources
        try:
            verified = verified_token(scope, resources.tokens)
        except InvalidToken:
            return False
        if verified is None:
            return False
        if verified.manages_orders:
            # A staff token: Strawberry's path checks the role (and reads through the cache too).
            return False
        user_id = verified.user_id
        scope[ROUTE_TEMPLATE] = self.path
        cache = resources.counted_order_cache(rate_limit_identity(user_id, ""))
        headers: dict[str, str] = {}
        answer: dict[str, Any]
        try:
            async with resources.unit_of_work(read_only=True) as uow:
                read = await read_order(uow=uow, cache=cache, user_id=user_id, order_id=order_id)
        except RateLimitExceeded as exc:
            # As graph/app.py refuses it: before the document counts, so it is priced at 0.
            refused = shape_error(GraphQLError(str(exc), original_error=exc))
            answer = {"data": None, "errors": [refused.formatted], "extensions": {"cost": 0}}
            headers = rejection_headers(exc)
        except Exception as exc:
            error = GraphQLError(str(exc), nodes=[plan.node], path=[plan.key], original_error=exc)
            log_errors([error])
            answer = {
                "data": {plan.key: None},
                "errors": [shape_error(error).formatted],
                "extensions": {"cost": plan.cost},
            }
        else:
            order = complete(plan.fields, Order.from_domain(read.order()))
            answer = {"data": {plan.key: order}, "extensions": {"cost": plan.cost}}
        if cache.verdict is not None and not headers:
            headers = rate_limit_headers(cache.verdict)
        # As Strawberry encodes it (strawberry/http/base.py).
        body = json.dumps(answer, separators=(",", ":"))
        await Response(body, media_type="application/json", headers=headers)(scope, receive, send)
        return True

    def _plan_for(self, request: Mapping[str, Any], *, get: bool) -> Plan | None:
        try:
            digest = requested_digest(request.get("extensions"))
        except PersistedQueryRefused:
            return None
        query = request.get("query")
        if digest is not None:
            # Registration (a document beside its hash) is Strawberry's to handle.
            document = self.persisted.local(digest) if query is None else None
            key = ("sha256", digest)
        else:
            # A document in a URL is refused by the normal path (GET takes hashes only).
            document = None if get else query
            key = ("document", document if isinstance(document, str) else "")
        if not isinstance(document, str) or len(document) > MAX_DOCUMENT_CHARS:
            return None
        if key in self._plans:
            plan = self._plans[key]
        else:
            plan = compile_plan(
                document,
                schema=self.schema,
                rules=self.rules,
                max_tokens=self.max_tokens,
                max_cost=self.max_cost,
            )
            if len(self._plans) < MAX_PLANS:
                self._plans[key] = plan
        operation_name = request.get("operationName")
        if plan is None or operation_name not in (None, plan.operation_name):
            return None
        return plan


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _query_params(query_string: bytes) -> dict[str, Any] | None:
    """A GET's operation as Strawberry reads it: `variables` and `extensions` as JSON objects."""
    params: dict[str, Any] = dict(parse_qsl(query_string.decode("latin-1")))
    for name in ("variables", "extensions"):
        if params.get(name):
            params[name] = _json_object(params[name].encode("latin-1"))
            if params[name] is None:
                return None
    return params


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole request body (None if it did not arrive whole), and a `receive` that hands it on
    to the app if we do not answer."""
    chunks = []
    first: Message | None = None  # a disconnect, passed on as it came
    failure: Exception | None = None  # the body size limit's refusal (api/middleware.py)
    while True:
        try:
            message = await receive()
        except Exception as exc:
            failure = exc
            break
        if message["type"] != "http.request":
            first = message
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks) if first is None and failure is None else None
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        if failure is not None:
            raise failure
        return first or {"type": "http.request", "body": body or b"", "more_body": False}

    return body, replay
