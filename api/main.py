"""The API process's composition root: `python -m api` (uvicorn, api/__main__.py) serves `create_app`."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import FrameType

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from redis.exceptions import RedisError
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.docs import install_docs
from api.errors import install_error_handlers
from api.fastpath import CachedOrderFastPath, check_route
from api.middleware import EdgeMiddleware
from api.openapi import camel_case_operation_id, install_openapi
from api.routes import (
    auth,
    health,
    metrics,
    order_events,
    order_lists,
    orders,
    problems,
    users,
    webhooks,
)
from api.routes.metrics import OutboxBacklog
from api.settings import ApiProcessSettings, get_api_settings
from api.tracing import ServerSpans
from edge.live import LiveHub
from edge.resources import open_resources
from graph.app import mount_graphql
from infra.health import Readiness
from infra.logs import configure_logging
from infra.redis import accepts_anonymous_clients
from infra.settings import Environment
from infra.tracing import configure_tracing, instrumentation_disabled
from relay.relay import start_outbox_relay

logger = logging.getLogger(__name__)


def _close_live_connections_on_sigterm(hub: LiveHub) -> Callable[[], None]:
    """On SIGTERM, close the live connections first (WebSockets with 1001, "going away", SSE streams
    ended) so clients reconnect to another process, then hand the signal to the server's own handler.

    Left to uvicorn, its shutdown would close WebSockets with 1012 and wait on SSE streams (which
    never end by themselves) until killed. Returns the function that restores the previous handler.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    draining: set[asyncio.Task[None]] = set()

    async def drain_then_stop(signum: int, frame: FrameType | None) -> None:
        await hub.drain()
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signal.SIGTERM, previous)
            signal.raise_signal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        def start() -> None:
            task = loop.create_task(drain_then_stop(signum, frame))
            draining.add(task)
            task.add_done_callback(draining.discard)

        loop.call_soon_threadsafe(start)

    signal.signal(signal.SIGTERM, on_sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def create_app(settings: ApiProcessSettings | None = None) -> FastAPI:
    settings = settings or get_api_settings()
    # Refuse to start when the cached-read fast path no longer matches the route it reproduces.
    check_route()
    # Before the app is built: its middleware stack and the engines are instrumented as they are made.
    tracer_provider = configure_tracing("orders-api")
    # Here, not in the lifespan: uvicorn calls the factory before its own startup lines.
    configure_logging(settings.app)
    app = FastAPI(
        title="Orders",
        # Readable names for generated clients: `getMe` for `get_me`, unless a route names its own.
        generate_unique_id_function=camel_case_operation_id,
        summary="Order management: users, orders, status rules, cache and events.",
        version="0.1.0",
        lifespan=_lifespan(settings, tracer_provider),
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        # Our own server span instead (api/tracing.py, docs/decisions/http-server-span.md); no
        # metrics or logs through OpenTelemetry (Prometheus and JSON lines have them), nor
        # exporters set up from OTEL_*.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    install_docs(app)
    # GraphQL over the same services (app.state.resources), beside the REST routes. First: its
    # fast path is the innermost middleware, inside CORS and the edge headers like the routes.
    mount_graphql(
        app,
        settings.graphql,
        live=settings.live,
        allowed_origins=settings.app.cors_origins,
        tracer_provider=tracer_provider,
    )
    _add_middleware(app, settings)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    if tracer_provider is not None:
        # Outermost, so every request is in a span, the cached-read fast path's included; a client's
        # `traceparent` is continued.
        app.add_middleware(ServerSpans, tracer_provider=tracer_provider)
    return app


ROUTERS = (
    health.router,
    metrics.router,
    auth.router,
    users.router,
    orders.router,
    order_lists.router,
    order_events.router,
    webhooks.router,
    problems.router,
)


async def _refuse_open_redis(settings: ApiProcessSettings) -> None:
    """Production's startup check of what settings alone cannot tell: that Redis asks for the
    password REDIS_URL carries. An unreachable Redis is let through (the API runs without it)."""
    try:
        open_to_anyone = await accepts_anonymous_clients(settings.redis)
    except (RedisError, OSError) as exc:
        logger.warning("startup: cannot tell whether Redis requires a password (%r)", exc)
        return
    if open_to_anyone:
        msg = (
            "refusing to start with ENVIRONMENT=production: Redis (REDIS_URL) accepts connections "
            "without a password; set one (requirepass, or an ACL user) and put it in REDIS_URL"
        )
        raise RuntimeError(msg)


def _lifespan(
    settings: ApiProcessSettings, tracer_provider: TracerProvider | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.app.environment is Environment.PRODUCTION:
            await _refuse_open_redis(settings)
        async with open_resources(
            settings, live=settings.live, order_rules=settings.order_rules
        ) as services:
            app.state.resources = services
            if tracer_provider is not None and not instrumentation_disabled("redis"):
                RedisInstrumentor.instrument_client(services.redis, tracer_provider=tracer_provider)
            await services.live.start()
            restore_sigterm = _close_live_connections_on_sigterm(services.live)
            # Everything built so far lives as long as the process: keep it out of the cyclic GC's
            # full collections, whose scans of it stalled requests (the cached read's p99).
            gc.freeze()
            # Publishes the outbox: each new order's event reaches RabbitMQ right after its commit.
            relay = start_outbox_relay(
                outbox=settings.outbox,
                rabbitmq=settings.rabbitmq,
                database=settings.database,
                session_factory=services.session_factory,
                reconcile=settings.reconcile,
            )
            app.state.outbox_backlog = OutboxBacklog(services)
            app.state.readiness = Readiness(
                engine=services.engine,
                redis=services.redis,
                rabbitmq_connected=None if relay is None else lambda: relay.connected,
            )
            try:
                yield
            finally:
                restore_sigterm()
                await services.live.stop()
                if relay is not None:
                    await relay.stop()

    return lifespan


def _add_middleware(app: FastAPI, settings: ApiProcessSettings) -> None:
    """Innermost first: the cached-read fast path inside CORS and the edge headers, so its answers
    get exactly what the route's get."""
    app.add_middleware(CachedOrderFastPath)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.app.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "If-Match",
            "If-None-Match",
            "Last-Event-ID",
            "X-Request-ID",
        ],
        expose_headers=[
            "ETag",
            "Location",
            "Link",
            "Retry-After",
            "X-Cache",
            "X-Request-ID",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ],
    )
    if settings.app.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.app.trusted_proxies)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.app.max_body_bytes)
