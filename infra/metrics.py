"""Prometheus metrics, defined once for every process.

The API serves them at /metrics; the consumer and the worker on their own port when METRICS_PORT is
set (0, the default, serves none). Each process has its own registry: scrape every replica (compose
scales containers, each with one uvicorn worker). With several uvicorn workers in one process group,
set PROMETHEUS_MULTIPROC_DIR as prometheus_client documents.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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


def serve_metrics(port: int) -> None:
    """For the processes without an HTTP server of their own (consumer, worker)."""
    if port:
        start_http_server(port)
