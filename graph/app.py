"""The GraphQL endpoint as the API process mounts it: POST /graphql, and the playground on GET.

The playground (GraphiQL) runs offline: its page loads pinned copies of GraphiQL and React that the
app serves itself from graph/static/ (pinned in graph/vendor.txt, `make graphiql`), under a strict
Content-Security-Policy, instead of Strawberry's page that pulls them from a CDN.
"""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import FastAPI
from graphql import GraphQLError, OperationType
from opentelemetry.trace import TracerProvider
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from strawberry import Schema
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from domain.ratelimit.budget import RateLimitExceeded
from edge.errors import MALFORMED_JSON, ErrorCode
from edge.resources import Resources
from edge.security import page_csp
from edge.settings import LiveSettings
from graph.context import GraphContext, get_context
from graph.errors import SubscriptionOverHttp, shape_error
from graph.fastpath import GraphQLFastPath
from graph.live import LegacyWSHandler, TransportWSHandler
from graph.operations import operation_type
from graph.persisted import (
    PERSISTED_QUERY_NOT_FOUND,
    DocumentLimits,
    PersistedQueries,
    PersistedQueryNotFound,
    PersistedQueryRefused,
    requested_digest,
)
from graph.schema import create_schema, validation_limit_rules
from graph.settings import GraphQLSettings

PATH = "/graphql"
STATIC_PATH = f"{PATH}/static"
STATIC_DIR = Path(__file__).parent / "static"
PLAYGROUND_PAGE = Path(__file__).parent / "playground.html"

# Only the app's own scripts (no inline script at all), requests only to the app itself.
PLAYGROUND_CSP = page_csp(script_src="'self'")
# nosniff, X-Frame-Options and Referrer-Policy come with every answer of the app (api's edge middleware).
_PLAYGROUND_HEADERS = {"Content-Security-Policy": PLAYGROUND_CSP, "Cache-Control": "no-cache"}


@functools.cache
def _playground_page() -> str:
    return PLAYGROUND_PAGE.read_text()


def _is_subscription(request_data: GraphQLRequestData) -> bool:
    query = request_data.query
    # The word first: parsing every request twice would cost the hot path for nothing.
    if not query or "subscription" not in query:
        return False
    return operation_type(query, request_data.operation_name) is OperationType.SUBSCRIPTION


class RequestRefused(HTTPException):
    """A request refused before it runs, with the `reason` REST gives the same failure."""

    def __init__(self, status_code: int, message: str, reason: str) -> None:
        super().__init__(status_code, message)
        self.problem_reason = reason


_GET_TAKES_PERSISTED_QUERIES = (
    "GET runs persisted queries only (extensions.persistedQuery); send documents by POST"
)


class GraphQLEndpoint(GraphQLRouter[GraphContext, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, schema: Schema, *, persisted: PersistedQueries, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.persisted = persisted

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: GraphContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Spend one unit of the REST default rate limit per request (batching is off) before
        parsing it; each further top-level field spends one more before execution (graph/cost.py).
        A subscription is refused here: it runs over WebSocket only."""
        if _is_subscription(request_data):
            refused = SubscriptionOverHttp()
            return ExecutionResult(
                data=None, errors=[GraphQLError(str(refused), original_error=refused)]
            )
        try:
            await context.spend_rate_limit(1)
        except RateLimitExceeded as exc:
            # Shaped with the others in process_result; nothing was parsed, so nothing was priced.
            error = GraphQLError(str(exc), original_error=exc)
            return ExecutionResult(data=None, errors=[error], extensions={"cost": 0})
        try:
            request_data.query = await self._document(request, request_data, context)
        except PersistedQueryNotFound as exc:
            error = GraphQLError(str(exc), extensions={"code": PERSISTED_QUERY_NOT_FOUND})
            return ExecutionResult(data=None, errors=[error], extensions={"cost": 0})
        except (PersistedQueryRefused, RateLimitExceeded) as exc:
            error = GraphQLError(str(exc), original_error=exc)
            return ExecutionResult(data=None, errors=[error], extensions={"cost": 0})
        return await super().execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=request_data,
        )

    async def _document(
        self, request: Request, request_data: GraphQLRequestData, context: GraphContext
    ) -> str | None:
        """The operation's document: the one sent, or the persisted one its hash names
        (graph/persisted.py). A GET must name one by hash: documents travel in bodies, not URLs."""
        digest = requested_digest(request_data.extensions)
        if digest is None:
            if request.method == "GET":
                raise HTTPException(400, _GET_TAKES_PERSISTED_QUERIES)
            return request_data.query
        resources: Resources = request.app.state.resources
        return await self.persisted.document(
            digest=digest,
            query=request_data.query,
            resources=resources,
            # A registration stores data for everyone: it spends a unit of its own.
            before_registering=lambda: context.spend_rate_limit(1),
        )

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET naming a persisted query is an operation, whatever its Accept header says.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    def parse_json(self, data: str | bytes) -> object:
        """The request body, which must be one JSON object (a list is a batch, refused later).

        Every way JSON can be invalid is the client's 400, never our 500: broken syntax, invalid
        UTF-8, an integer too long to convert, nesting too deep to parse.
        """
        try:
            body = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise RequestRefused(
                400, "Unable to parse request body as JSON", MALFORMED_JSON
            ) from exc
        if not isinstance(body, dict | list):
            raise RequestRefused(400, "The request body must be a JSON object", MALFORMED_JSON)
        return body

    async def run(  # type: ignore[override]
        self, request: Request, context: GraphContext = UNSET, root_value: None = UNSET
    ) -> Response:
        """As Strawberry's, but a request refused before it runs (it is not a GraphQL request at
        all: broken JSON, no query, a method or media type not served) is answered as a GraphQL
        error with its `code` and `reason` (the ones REST gives the same failure), with the HTTP
        status Strawberry chose, instead of plain text."""
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            extensions = {"code": ErrorCode.BAD_REQUEST.value}
            if isinstance(exc, RequestRefused):
                extensions["reason"] = exc.problem_reason
            error = {"message": exc.reason, "extensions": extensions}
            return JSONResponse({"errors": [error]}, status_code=exc.status_code)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # The last gate before the wire: even an error raised outside the resolvers gets its code
        # (and is masked when unexpected).
        if result.errors:
            result.errors = [shape_error(error) for error in result.errors]
        return await super().process_result(request, result)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(_playground_page(), headers=_PLAYGROUND_HEADERS)


def mount_graphql(
    app: FastAPI,
    settings: GraphQLSettings,
    *,
    live: LiveSettings,
    allowed_origins: list[str],
    tracer_provider: TracerProvider | None = None,
) -> None:
    """Serve the schema at /graphql: operations over POST (and persisted queries over GET),
    subscriptions over WebSocket (and, when enabled, the playground and its files); the cached
    order read's fast path in front. Call it before adding the app's other middleware: the fast
    path must sit inside them, as the routes do."""
    limit_rules = validation_limit_rules(settings)
    schema = create_schema(settings, limit_rules=limit_rules, tracer_provider=tracer_provider)
    persisted = PersistedQueries(
        limits=DocumentLimits(
            schema=schema._schema,
            rules=limit_rules,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_cost,
        ),
        max_documents=settings.persisted_max_documents,
    )
    router = GraphQLEndpoint(
        schema,
        persisted=persisted,
        path=PATH,
        context_getter=get_context,
        graphql_ide="graphiql" if settings.playground else None,
        # GET opens the playground, or runs a persisted query by its hash (`_document`): no
        # document text in URLs and logs.
        allow_queries_via_get=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        # graphql-ws (legacy) keep-alive messages; graphql-transport-ws pings (graph/live.py).
        keep_alive=True,
        keep_alive_interval=live.ping_interval_seconds,
        # graphql-transport-ws closes a socket silent this long with 4408 (graphql-ws: graph/live.py).
        connection_init_wait_timeout=timedelta(seconds=live.init_timeout_seconds),
        # Browsers on these origins (CORS_ORIGINS) may open the WebSocket; same-origin pages always.
        allowed_origins=allowed_origins,
        include_in_schema=False,
    )
    app.include_router(router)
    app.add_middleware(
        GraphQLFastPath,
        path=PATH,
        schema=schema,
        validation_rules=limit_rules,
        max_tokens=settings.max_tokens,
        max_cost=settings.max_cost,
        persisted=persisted,
    )
    if settings.playground:
        app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="graphql-static")
