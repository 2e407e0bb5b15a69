"""Order events delivered to real local receivers by a real `webhooks` process, signed per the
Standard Webhooks specification (checked with the `standardwebhooks` package)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.dispatcher.conftest import (
    CreateEndpoint,
    customer,
    delivery_rows,
    dispatcher,
    new_order,
    set_status,
)
from tests.support.processes import Processes
from tests.support.receiver import Answer, Receiver

Receivers = Callable[..., Awaitable[Receiver]]


async def wait_until(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.05)


async def test_every_order_event_is_delivered_signed_in_order_with_the_order_as_get_answers_it(
    processes: Processes, create_endpoint: CreateEndpoint, receivers: Receivers
) -> None:
    receiver = await receivers()
    endpoint = await create_endpoint(receiver.url)
    api, base_url = processes.api()
    webhooks = dispatcher(processes)
    await processes.ready(api, webhooks)
    headers = await customer(base_url)

    order = await new_order(base_url, headers)
    await set_status(base_url, headers, order["id"], "PAID")
    await set_status(base_url, headers, order["id"], "SHIPPED")

    received = await receiver.wait_for(3)
    bodies: list[dict[str, Any]] = [request.verified(endpoint.secret) for request in received]  # type: ignore[misc]
    assert [body["type"] for body in bodies] == [
        "order.created",
        "order.status_changed",
        "order.status_changed",
    ]
    assert [body["data"]["event"]["seq"] for body in bodies] == [1, 2, 3]
    assert [body["data"]["event"]["previous_status"] for body in bodies] == [
        None,
        "PENDING",
        "PAID",
    ]
    assert len({request.headers["webhook-id"] for request in received}) == 3
    for request in received:
        assert request.method == "POST"
        assert request.path == "/hooks"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("orders-webhooks/")
        assert request.headers["webhook-signature"].startswith("v1,")
    async with httpx.AsyncClient(base_url=base_url) as client:
        current = (await client.get(f"/orders/{order['id']}/", headers=headers)).json()
    last = dict(bodies[-1]["data"])
    assert last.pop("event")["status"] == "SHIPPED"
    assert last == current
    assert bodies[0]["data"]["id"] == order["id"]


async def test_retries_follow_the_schedule_with_the_same_webhook_id_until_a_2xx(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
    webhook_db: AsyncEngine,
) -> None:
    answers = iter([Answer(status=500), Answer(status=503), Answer(status=200)])
    receiver = await receivers(lambda _request: next(answers))
    endpoint = await create_endpoint(receiver.url, ["order.created"])
    api, base_url = processes.api()
    webhooks = dispatcher(processes)
    await processes.ready(api, webhooks)
    await new_order(base_url, await customer(base_url))

    received = await receiver.wait_for(3)
    assert len({request.headers["webhook-id"] for request in received}) == 1

    async def succeeded() -> bool:
        rows = await delivery_rows(webhook_db, endpoint.id)
        return bool(rows) and rows[0]["status"] == "succeeded"

    await wait_until(succeeded, within=10, what="the delivery succeeded")
    (row,) = await delivery_rows(webhook_db, endpoint.id)
    assert row["id"] == received[0].headers["webhook-id"]
    assert [attempt["response_status"] for attempt in row["attempts"]] == [500, 503, 200]
