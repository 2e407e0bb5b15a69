"""`make bench`: load-test the real stack natively and report every figure against a same-run baseline.

Starts a bare FastAPI app (B1) and then the API (with consumer and worker when the pipeline exists) on
the production server settings, against the local PostgreSQL, Redis and RabbitMQ — on a throwaway
database, Redis key prefix and RabbitMQ vhost, with rate limits off unless a scenario says otherwise.
wrk (Debian) drives each scenario from its own process: warm-up, then a fixed measured duration at
concurrency 64. Results: a Markdown table on stdout and in bench/results/, with a JSON twin.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import asdict
from datetime import UTC, datetime

import httpx
from yarl import URL

from bench import chart
from bench.harness import (
    API_WORKERS,
    CONNECTIONS,
    DURATION,
    RESULTS,
    WARMUP,
    LoginTrickle,
    Result,
    Run,
    api_server,
    free_port,
    login,
    login_latency,
    markdown,
    measure,
    measure_bare_route,
    pgbench,
    redis_benchmark,
    write_ids,
)
from bench.live import live_scenario
from bench.relay import empty_outbox, relay_scenario
from bench.scenarios import (
    ISSUE_RATE,
    WORKER_CONCURRENCY,
    costly_graphql_scenario,
    introspection_flood_scenario,
    persisted_query_url,
    pipeline_processes,
    pipeline_scenario,
    traced_cached_get,
    wait_all_processed,
)
from bench.seed import cursor_at, order_ids, seed_costly_orders, seed_orders
from bench.stack import (
    PG_ADMIN,
    RABBITMQ_URL,
    create_database,
    delete_redis_keys,
    drop_database,
    rabbitmqctl,
    throwaway_backends,
)
from bench.webhooks import webhooks_scenario

DEEP_ORDERS = int(os.environ.get("BENCH_DEEP_ORDERS", "100000"))
PATCH_ORDERS = int(os.environ.get("BENCH_PATCH_ORDERS", "60000"))


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    database, pg_database = f"orders_bench_{tag}", f"orders_pgbench_{tag}"
    vhost = f"orders_bench_{tag}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    env = bench_env(tag, dsn, vhost)
    run = Run(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().machine}",
        settings={
            "duration_s": DURATION,
            "warmup_s": WARMUP,
            "connections": CONNECTIONS,
            "api_workers": API_WORKERS,
            "worker_concurrency": WORKER_CONCURRENCY,
        },
    )
    try:
        with throwaway_backends(database=database, vhost=vhost, env=env):
            run_scenarios(run, env, dsn, tag, pg_database)
    finally:
        # The cache, the rate-limit counters and the taskiq stream of this run.
        asyncio.run(delete_redis_keys(f"orders-bench-{tag}:"))

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    table = markdown(run)
    (RESULTS / f"bench-{stamp}.md").write_text(table)
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(asdict(run), indent=2))
    chart.draw(asdict(run), RESULTS / f"bench-{stamp}.png")
    print()
    print(table)


def bench_env(tag: str, dsn: str, vhost: str) -> dict[str, str]:
    """The environment of every process of one run: its own database, Redis prefix and vhost."""
    return {
        # Untraced unless a scenario says so: the baseline is the service as it runs by default.
        **{name: value for name, value in os.environ.items() if not name.startswith("OTEL_")},
        "DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://"),
        "REDIS_KEY_PREFIX": f"orders-bench-{tag}:",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_SIZE": "32",
        "RABBITMQ_URL": str(URL(RABBITMQ_URL).with_path(f"/{vhost}")),
        "TASKIQ_STREAM": f"orders-bench-{tag}:taskiq",
        "WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "LOG_FORMAT": "text",
    }


def run_scenarios(run: Run, env: dict[str, str], dsn: str, tag: str, pg_database: str) -> None:
    """Every scenario, in order, each row appended to `run`."""
    print("B1: bare FastAPI app", flush=True)
    b1 = measure_bare_route(env)
    b1.ratio = 1.0
    run.results.append(b1)

    def versus(result: Result, baseline: Result, label: str = "B1") -> Result:
        result.ratio, result.baseline = result.rps / baseline.rps, label
        run.results.append(result)
        return result

    # Before any API process runs: the relay measured must be the only one.
    print("8. outbox relay alone", flush=True)
    run.extra.update(relay_scenario(env["DATABASE_URL"], env["RABBITMQ_URL"], dsn))
    rabbitmqctl("purge_queue", "-p", f"orders_bench_{tag}", "new_order")
    asyncio.run(empty_outbox(dsn))

    with pipeline_processes(env), api_server(env, "api") as base:
        reader_id, reader_token = login(base, f"reader-{tag}@example.com")
        deep_id, deep_token = login(base, f"deep-{tag}@example.com")
        patcher_id, patcher_token = login(base, f"patcher-{tag}@example.com")
        _, writer_token = login(base, f"writer-{tag}@example.com")
        asyncio.run(seed_orders(dsn, reader_id, 1000))
        asyncio.run(seed_orders(dsn, deep_id, DEEP_ORDERS))
        asyncio.run(seed_orders(dsn, patcher_id, PATCH_ORDERS))
        reader_ids = write_ids("reader", asyncio.run(order_ids(dsn, reader_id, 1000)))
        pending = asyncio.run(order_ids(dsn, patcher_id, PATCH_ORDERS))
        patch_ids, patch_warmup_ids = (
            write_ids("patch", pending[::2]),
            write_ids("patch-warmup", pending[1::2]),
        )
        deep_cursor = asyncio.run(cursor_at(dsn, deep_id, 1000 * 50 - 1))
        costly_id, costly_token = login(base, f"costly-{tag}@example.com")
        asyncio.run(seed_costly_orders(dsn, costly_id, 200))

        print("API scenarios", flush=True)
        cached = versus(
            measure("1. GET /orders/{id}/ cached", base, "get-order", reader_token, reader_ids),
            b1,
        )
        with LoginTrickle(base, f"reader-{tag}@example.com", per_second=5):
            trickle = versus(
                measure("1b. cached GET + 5 logins/s", base, "get-order", reader_token, reader_ids),
                b1,
            )
        trickle.note = f"p99 {trickle.p99_ms / cached.p99_ms:.2f}× the cached GET's"
        posted = versus(measure("3. POST /orders/", base, "post-order", writer_token), b1)
        drained = asyncio.run(wait_all_processed(dsn, within=600))
        posted.note = f"every created order processed {drained:.0f} s after the scenario"
        versus(
            measure(
                "4. PATCH /orders/{id}/ (PENDING→PAID)",
                base,
                "patch-order",
                patcher_token,
                patch_ids,
                patch_warmup_ids,
            ),
            b1,
        )
        first = versus(
            measure(
                "5a. list, first page (limit 50)",
                f"{base}/orders/user/{deep_id}/?limit=50",
                "plain",
                deep_token,
            ),
            b1,
        )
        deep = versus(
            measure(
                "5b. list, page 1,000 deep",
                f"{base}/orders/user/{deep_id}/?limit=50&cursor={deep_cursor}",
                "plain",
                deep_token,
            ),
            b1,
        )
        deep.note = f"p99 {deep.p99_ms / first.p99_ms:.2f}× the first page's"
        graphql_ok = (
            httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, timeout=5).status_code
            == 200
        )
        if graphql_ok:
            versus(
                measure(
                    "6. GraphQL order(id) cached",
                    f"{base}/graphql",
                    "graphql-order",
                    reader_token,
                    reader_ids,
                ),
                b1,
            )
            versus(
                measure(
                    "6b. GraphQL order(id) cached, persisted query over GET",
                    persisted_query_url(base, reader_token),
                    "graphql-persisted",
                    reader_token,
                    reader_ids,
                ),
                b1,
            )
            run.results.append(
                costly_graphql_scenario(base, costly_id, costly_token, reader_token, reader_ids)
            )
            run.results.append(introspection_flood_scenario(base, reader_token, reader_ids))
            run.results.append(
                introspection_flood_scenario(base, reader_token, reader_ids, per_second=ISSUE_RATE)
            )
        print("pipeline", flush=True)
        run.extra.update(pipeline_scenario(base, dsn, writer_token))
        run.extra["/token median (one Argon2id check, sequential)"] = (
            f"{1000 * login_latency(base, f'reader-{tag}@example.com'):.1f} ms"
        )

    with api_server({**env, "ORDER_CACHE_ENABLED": "false"}, "api-nocache") as base:
        uncached = measure(
            "2. GET /orders/{id}/ uncached", base, "get-order", reader_token, reader_ids
        )
        versus(uncached, cached, "cached GET")

    with api_server(
        {**env, "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_DEFAULT": "1000000000/minute"},
        "api-limited",
    ) as base:
        versus(
            measure(
                "1c. cached GET, rate limiting on", base, "get-order", reader_token, reader_ids
            ),
            b1,
        )

    run.results.append(traced_cached_get(env, reader_token, reader_ids))
    run.results.append(traced_cached_get(env, reader_token, reader_ids, redis_traced=False))

    print("live updates", flush=True)
    run.extra.update(live_scenario(env, free_port()))

    print("webhooks", flush=True)
    # The order events of the scenarios above waited there for a dispatcher: not this one's.
    rabbitmqctl("purge_queue", "-p", f"orders_bench_{tag}", "webhooks")
    run.extra.update(webhooks_scenario(env, dsn, tag))

    print("servers", flush=True)
    run.extra["redis-benchmark -t get (c=64)"] = f"{redis_benchmark():,.0f} req/s"
    asyncio.run(create_database(pg_database))
    try:
        run.extra["pgbench -S (c=64, scale 1)"] = f"{pgbench(pg_database):,.0f} tps"
    finally:
        asyncio.run(drop_database(pg_database))


if __name__ == "__main__":
    main()
