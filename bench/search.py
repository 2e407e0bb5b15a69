"""`make bench-search` (also the last part of `make bench`): the order search at scale.

Seeds BENCH_SEARCH_ORDERS orders (1,000,000) across BENCH_SEARCH_USERS users (10,000) with SQL into a
throwaway database, then measures `GET /orders/` as a staff member at 16 concurrent clients (wrk),
for the six shapes of docs/staff.md, each on its first page and on its 50th (reached by following the
`Link` cursors), and `count=true` for one status. Prints a Markdown table (and writes it, with the
EXPLAIN ANALYZE plan of each shape, to bench/results/search-*.md, and the chart beside it).

`BENCH_SEARCH_COUNT_ONLY=1` measures the count and, as the same run's reference for what counting
adds, the same search's pages (b) alone (with the seeding, about a minute and a half).

Orders are spread over the last ~30 days (one every 2.6 s), statuses 30 % PENDING, 30 % PAID, 30 %
SHIPPED, 10 % CANCELED, totals 0.00 to 999.99, each user every 10,000th order (~100 each).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from sqlalchemy.dialects import postgresql
from yarl import URL

from bench import chart
from bench.harness import (
    PASSWORD,
    RESULTS,
    WARMUP,
    Result,
    free_port,
    login,
    run_wrk,
    uvicorn,
    wait_until_serving,
)
from bench.stack import PG_ADMIN, RABBITMQ_URL, delete_redis_keys, throwaway_backends
from domain.orders.search import OrderFilter, OrderSort, Scope
from domain.orders.search_repository import count_statement, page_statement

USERS = int(os.environ.get("BENCH_SEARCH_USERS", "10000"))
ORDERS = int(os.environ.get("BENCH_SEARCH_ORDERS", "1000000"))
CLIENTS = int(os.environ.get("BENCH_SEARCH_CLIENTS", "16"))
DURATION = int(os.environ.get("BENCH_SEARCH_DURATION", "10"))
# `1`: the count and shape (b) only, to compare counts before and after a change.
COUNT_ONLY = os.environ.get("BENCH_SEARCH_COUNT_ONLY", "") == "1"
DEEP_PAGE = 50
STARTUP_SECONDS = 240
PAGE_SIZE = 20
SPACING_SECONDS = 2.6
# The newest order's time: shapes (d) and (f) take their day and week before it.
NEWEST = datetime(2026, 12, 1, tzinfo=UTC)


async def seed(dsn: str) -> int:
    """The users and orders, with SQL; returns the first user's id."""
    connection = await asyncpg.connect(dsn)
    try:
        first_user = await connection.fetchval(
            """
            INSERT INTO users (email, password_hash, created_at)
            SELECT 'search-' || g || '@example.com', 'not-a-hash', now()
            FROM generate_series(1, $1) g
            RETURNING id
            """,
            USERS,
        )
        first_user = await connection.fetchval("SELECT min(id) FROM users")
        await connection.execute(
            """
            INSERT INTO orders (id, user_id, items, total_price, status, created_at, updated_at, version)
            SELECT gen_random_uuid(), $1 + (g % $2),
                   '[{"product_id": "sku-1", "name": "Mug", "quantity": 1, "price": "5.50"}]'::jsonb,
                   ((g::bigint * 7919) % 100000) / 100.0,
                   (CASE WHEN g % 10 < 3 THEN 'PENDING' WHEN g % 10 < 6 THEN 'PAID'
                         WHEN g % 10 < 9 THEN 'SHIPPED' ELSE 'CANCELED' END)::order_status,
                   $3::timestamptz - make_interval(secs => g * $4::float8),
                   $3::timestamptz - make_interval(secs => g * $4::float8), 1
            FROM generate_series(0, $5 - 1) g
            """,
            first_user,
            USERS,
            NEWEST,
            SPACING_SECONDS,
            ORDERS,
        )
        # As autovacuum would soon: statistics for the planner, the visibility map for
        # index-only scans (the count).
        await connection.execute("VACUUM ANALYZE orders")
        return int(first_user)
    finally:
        await connection.close()


def shapes(user_id: int) -> dict[str, dict[str, str]]:
    day = NEWEST - timedelta(days=3)
    week = NEWEST - timedelta(days=10)
    return {
        "a. no filter": {},
        "b. status=PAID": {"status": "PAID"},
        "c. one user_id": {"user_id": str(user_id)},
        "d. one day": {
            "created_from": day.isoformat(),
            "created_to": (day + timedelta(days=1)).isoformat(),
        },
        "e. total range by -total_price": {
            "min_total": "100.00",
            "max_total": "200.00",
            "sort": "-total_price",
        },
        "f. status + one week": {
            "status": "PAID",
            "created_from": week.isoformat(),
            "created_to": (week + timedelta(days=7)).isoformat(),
        },
    }


def _measured(every: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    if COUNT_ONLY:
        return {name: params for name, params in every.items() if name.startswith("b.")}
    return every


def _statement_sql(params: dict[str, str], user_id: int | None) -> tuple[str, str]:
    """The page's and the count's SQL as the app sends it, with the values written in."""
    wanted = OrderFilter.model_validate(
        {
            key: ([value] if key == "status" else value)
            for key, value in params.items()
            if key not in {"sort", "user_id"}
        }
    )
    scope = Scope(filter=wanted, user_id=int(params["user_id"]) if "user_id" in params else None)
    sort = OrderSort(params.get("sort", "-created_at"))
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    literal = {"literal_binds": True}
    page = page_statement(scope=scope, sort=sort, limit=PAGE_SIZE + 1, after=None)
    count = count_statement(scope=scope)
    return (
        str(page.compile(dialect=dialect, compile_kwargs=literal)),
        str(count.compile(dialect=dialect, compile_kwargs=literal)),
    )


async def explain(dsn: str, sql: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}"
        )
    finally:
        await connection.close()
    return "\n".join(row[0] for row in rows)


def deep_url(client: httpx.Client, url: str, token: str, page: int) -> tuple[str, int]:
    """The URL of page `page` (or of the last page, and its number, when there are fewer)."""
    headers = {"Authorization": f"Bearer {token}"}
    reached = 1
    while reached < page:
        response = client.get(url, headers=headers)
        response.raise_for_status()
        link = response.headers.get("Link")
        if link is None:
            break
        match = re.fullmatch(r"<(.*)>; rel=\"next\"", link)
        assert match is not None, link
        url = match.group(1)
        reached += 1
    return url, reached


def measure(name: str, url: str, token: str) -> Result:
    run_wrk(url, "plain", token, seconds=WARMUP, connections=CLIENTS)
    result = Result.from_wrk(
        name, run_wrk(url, "plain", token, seconds=DURATION, connections=CLIENTS)
    )
    print(
        f"  {name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, errors {result.errors}",
        flush=True,
    )
    return result


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    database, vhost = f"orders_search_{tag}", f"orders_search_{tag}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OTEL_")},
        "DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://"),
        "REDIS_KEY_PREFIX": f"orders-search-{tag}:",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
        "OUTBOX_RELAY_ENABLED": "false",
        "RABBITMQ_URL": str(URL(RABBITMQ_URL).with_path(f"/{vhost}")),
    }
    results: list[Result] = []
    plans: list[str] = []
    started = datetime.now(UTC)
    try:
        with throwaway_backends(database=database, vhost=vhost, env=env):
            print(f"seeding {ORDERS:,} orders across {USERS:,} users", flush=True)
            seeding = datetime.now(UTC)
            first_user = asyncio.run(seed(dsn))
            seeded_in = (datetime.now(UTC) - seeding).total_seconds()
            print(f"  seeded in {seeded_in:.0f} s", flush=True)
            with _api_server(env) as base:
                staff_id, _ = login(base, f"search-staff-{tag}@example.com")
                asyncio.run(_make_staff(dsn, staff_id))
                token = _token(base, f"search-staff-{tag}@example.com")
                with httpx.Client(base_url=base, timeout=30) as client:
                    for name, params in _measured(shapes(first_user + 7)).items():
                        page_sql, _ = _statement_sql(params, None)
                        plans.append(
                            f"### {name}\n\n```\n{asyncio.run(explain(dsn, page_sql))}\n```"
                        )
                        first = str(
                            httpx.URL(f"{base}/orders/", params={**params, "limit": PAGE_SIZE})
                        )
                        results.append(measure(f"{name}: first page", first, token))
                        deep, reached = deep_url(client, first, token, DEEP_PAGE)
                        results.append(measure(f"{name}: page {reached}", deep, token))
                    counted = {"status": "PAID"}
                    _, count_sql = _statement_sql(counted, None)
                    plans.append(
                        f"### count, status=PAID\n\n```\n{asyncio.run(explain(dsn, count_sql))}\n```"
                    )
                    url = str(
                        httpx.URL(
                            f"{base}/orders/",
                            params={**counted, "count": "true", "limit": PAGE_SIZE},
                        )
                    )
                    results.append(measure("count=true, status=PAID", url, token))
    finally:
        asyncio.run(delete_redis_keys(f"orders-search-{tag}:"))
    report = _markdown(started, results, plans, seeded_in=locals().get("seeded_in"))
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"search-{stamp}.md").write_text(report)
    run: dict[str, object] = {
        "results": [asdict(result) for result in results],
        "started_at": started.isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {ORDERS:,} orders",
    }
    chart.draw(run, RESULTS / f"search-{stamp}.png", title="make bench-search")
    print()
    print(report)


@contextlib.contextmanager
def _api_server(env: dict[str, str]) -> Iterator[str]:
    """The API, given longer to start than the other scenarios' (a shared machine under load took
    50 s to import it)."""
    port = free_port()
    process = uvicorn("api.main:create_app", port, env, "api-search")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/openapi.json", process, timeout=STARTUP_SECONDS)
        yield base
    finally:
        process.stop()


async def _make_staff(dsn: str, user_id: int) -> None:
    # As `orders-admin grant-staff` does; the benchmark has the user's id at hand.
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("UPDATE users SET role = 'staff' WHERE id = $1", user_id)
    finally:
        await connection.close()


def _token(base: str, email: str) -> str:
    response = httpx.post(
        f"{base}/token", data={"username": email, "password": PASSWORD}, timeout=10
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _markdown(
    started: datetime, results: list[Result], plans: list[str], *, seeded_in: float | None
) -> str:
    lines = [
        f"# Order search benchmark {started.isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} cores; {ORDERS:,} orders across {USERS:,} users (seeded in "
        f"{seeded_in or 0:.0f} s); wrk -c{CLIENTS}, {WARMUP}s warm-up + {DURATION}s per row; "
        f"limit {PAGE_SIZE}; GET /orders/ as staff.",
        "",
        "| shape | req/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.scenario} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} |"
        for r in results
    ]
    lines += ["", "## Plans (EXPLAIN ANALYZE of each first page)", "", *plans]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
