from __future__ import annotations

import re
import time

import httpx
from sqlalchemy import event

from api.routes.metrics import BACKLOG_MAX_AGE_SECONDS
from edge.live import order_changes
from edge.resources import Resources
from tests.conftest import UserFactory, order_body


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    selector = re.escape(f"{{{wanted}}}") if labels else ""
    match = re.search(rf"^{name}{selector} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_requests_by_route_cache_results_and_the_outbox_backlog(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    before = (await client.get("/metrics")).text
    order_id = (await client.post("/orders/", json=order_body(), headers=user.headers)).json()["id"]
    await client.get(f"/orders/{order_id}/", headers=user.headers)  # a hit, on the fast path
    await client.get(f"/orders/{order_id}x/", headers=user.headers)  # 422, still by template

    after = (await client.get("/metrics")).text

    route = "/orders/{order_id}/"
    assert _sample(
        after, "orders_http_requests_total", method="GET", route=route, status="200"
    ) == (
        _sample(before, "orders_http_requests_total", method="GET", route=route, status="200") + 1
    )
    assert (
        _sample(after, "orders_http_requests_total", method="GET", route=route, status="422") >= 1
    )
    assert (
        _sample(after, "orders_cache_reads_total", result="hit")
        >= _sample(before, "orders_cache_reads_total", result="hit") + 1
    )
    assert order_id not in after
    # In-process test apps run without the relay, so the new order's event stays pending; the
    # backlog is re-read once the last reading is a second old.
    deadline = time.monotonic() + 5
    while _sample(after, "orders_outbox_backlog") < 1 and time.monotonic() < deadline:
        after = (await client.get("/metrics")).text
    assert _sample(after, "orders_outbox_backlog") >= 1


async def test_frequent_scrapes_cost_the_database_one_query_a_second(
    client: httpx.AsyncClient, app_state: Resources
) -> None:
    counts: list[str] = []

    def count_outbox_queries(*args: object) -> None:
        statement = str(args[2])
        if "outbox_events" in statement:
            counts.append(statement)

    event.listen(app_state.engine.sync_engine, "before_cursor_execute", count_outbox_queries)
    try:
        started = time.monotonic()
        answers = [await client.get("/metrics") for _ in range(20)]
        elapsed = time.monotonic() - started
    finally:
        event.remove(app_state.engine.sync_engine, "before_cursor_execute", count_outbox_queries)

    assert all(answer.status_code == 200 for answer in answers)
    assert 0 < len(counts) <= 1 + int(elapsed / BACKLOG_MAX_AGE_SECONDS) < 20


async def test_live_subscriptions_are_counted_while_open(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources
) -> None:
    user = await users.create()
    before = _sample((await client.get("/metrics")).text, "orders_live_subscriptions")
    changes = order_changes(app_state, user_id=user.id, ends_on_drain=True)
    await anext(changes)  # open

    during = _sample((await client.get("/metrics")).text, "orders_live_subscriptions")
    await changes.aclose()
    after = _sample((await client.get("/metrics")).text, "orders_live_subscriptions")

    assert (during - before, after - before) == (1, 0)
