"""Prometheus metrics, defined once for every process.

The API serves them at /metrics; the consumer, the worker and the webhook dispatcher at /metrics of
their own port when their METRICS_PORT is set (0, the default, serves none). In production every one
answers only `Authorization: Bearer <METRICS_TOKEN>` (`metrics_allowed`). Each process has its own registry: scrape every replica (compose
scales containers, each with one uvicorn worker). With several uvicorn workers in one process group,
set PROMETHEUS_MULTIPROC_DIR as prometheus_client documents.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app

from infra.settings import AppSettings, Environment

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

HTTP_REQUESTS = Counter(
    "orders_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "orders_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ORDER_CACHE = Counter("orders_cache_reads_total", "Order cache reads", ["result"])
REDIS_FAILURES = Counter(
    "orders_redis_failures_total", "Redis calls skipped or failed (cache, limits)", ["operation"]
)
OUTBOX_BACKLOG = Gauge(
    "orders_outbox_backlog", "Events committed but not yet confirmed by RabbitMQ"
)
EVENTS_PUBLISHED = Counter(
    "orders_events_published_total", "Events confirmed by RabbitMQ", ["event"]
)
EVENTS_REPUBLISHED = Counter(
    "orders_events_republished_total",
    "Events published again by the reconciler: published, not processed within the deadline",
    ["event"],
)
EVENTS_CONSUMED = Counter(
    "orders_events_consumed_total", "Events taken by the consumer", ["outcome"]
)
TASKS = Counter("orders_tasks_total", "Order-processing tasks run by the worker", ["outcome"])
RETENTION_REMOVED = Counter(
    "orders_retention_removed_total",
    "Rows deleted by the retention purge (worker schedule or orders-admin purge)",
    ["kind"],
)
LIVE_SUBSCRIPTIONS = Gauge(
    "orders_live_subscriptions", "Live subscriptions (GraphQL and SSE) open in this API process"
)

WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries_total",
    "Webhook delivery attempts by outcome (succeeded, retry, failed, gone, refused)",
    ["outcome"],
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "webhook_delivery_seconds",
    "Time of one webhook delivery attempt, connect to answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WEBHOOK_PENDING = Gauge(
    "webhook_deliveries_pending", "Webhook deliveries not yet succeeded or failed"
)
WEBHOOK_DISABLED = Gauge("webhook_endpoints_disabled", "Webhook endpoints currently disabled")
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "webhook_endpoint_disablements_total",
    "Webhook endpoints the service disabled (410 Gone, too many failed deliveries)",
    ["reason"],
)


def metrics_allowed(authorization: str | None, settings: AppSettings) -> bool:
    """Outside production, anyone (a laptop, the tests); in production, only the scraper that sends
    METRICS_TOKEN (none set: nobody): per-route counts of registrations, logins and orders are
    business figures."""
    if settings.environment is not Environment.PRODUCTION:
        return True
    if settings.metrics_token is None:
        return False
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    return hmac.compare_digest((authorization or "").encode(), expected)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a log line each."""


def serve_metrics(port: int, settings: AppSettings) -> None:
    """For the processes without an HTTP server of their own: prometheus_client's WSGI app behind
    `metrics_allowed`, in a daemon thread."""
    if not port:
        return
    metrics: WSGIApplication = make_wsgi_app()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if metrics_allowed(environ.get("HTTP_AUTHORIZATION"), settings):
            return metrics(environ, start_response)
        start_response(
            "401 Unauthorized",
            [("Content-Type", "text/plain; charset=utf-8"), ("WWW-Authenticate", "Bearer")],
        )
        return [b"/metrics needs Authorization: Bearer <METRICS_TOKEN>\n"]

    wsgi: WSGIApplication = app
    server = make_server("", port, wsgi, _Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
