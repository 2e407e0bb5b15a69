from __future__ import annotations

import re

import httpx

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
    # In-process test apps run without the relay, so the new order's event is still pending.
    assert _sample(after, "orders_outbox_backlog") >= 1
    assert order_id not in after
