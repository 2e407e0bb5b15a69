"""Order events delivered to real local receivers by a real `webhooks` process, signed per the
Standard Webhooks specification (checked with the `standardwebhooks` package)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import WebhookVerificationError
from yarl import URL

from domain.webhooks import service, signing
from infra.settings import WebhookSettings
from tests.dispatcher.conftest import (
    CreateEndpoint,
    customer,
    delivery_rows,
    dispatcher,
    new_order,
    set_status,
    unit_of_work,
)
from tests.support.polling import until
from tests.support.processes import Processes
from tests.support.receiver import Answer, Received, Receiver
from tests.support.tcp_proxy import TcpProxy

Receivers = Callable[..., Awaitable[Receiver]]


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

    await until(succeeded, within=10, what="the delivery succeeded")
    (row,) = await delivery_rows(webhook_db, endpoint.id)
    assert row["id"] == received[0].headers["webhook-id"]
    assert [attempt["response_status"] for attempt in row["attempts"]] == [500, 503, 200]


async def endpoint_state(engine: AsyncEngine, webhook_id: object) -> tuple[bool, str | None]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = :id"),
                {"id": webhook_id},
            )
        ).one()
    return bool(row.enabled), row.disabled_reason


async def settled(engine: AsyncEngine, webhook_id: object, count: int) -> list[dict[str, Any]]:
    """The endpoint's deliveries once `count` of them are no longer pending."""
    rows: list[dict[str, Any]] = []

    async def done() -> bool:
        nonlocal rows
        rows = await delivery_rows(engine, webhook_id)  # type: ignore[arg-type]
        return len([row for row in rows if row["status"] != "pending"]) >= count

    await until(done, within=30, what=f"{count} delivery(ies) settled")
    return rows


@pytest.mark.parametrize(
    ("answer", "disables"),
    [
        (Answer(status=400), False),
        (Answer(status=404), False),
        (Answer(status=302, headers={"location": "http://127.0.0.1:1/elsewhere"}), False),
        (Answer(status=410), True),
    ],
)
async def test_4xx_and_3xx_fail_without_retry_and_410_disables_the_endpoint(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
    webhook_db: AsyncEngine,
    answer: Answer,
    disables: bool,
) -> None:
    receiver = await receivers(lambda _request: answer)
    endpoint = await create_endpoint(receiver.url, ["order.created"])
    api, base_url = processes.api()
    webhooks = dispatcher(processes)
    await processes.ready(api, webhooks)
    await new_order(base_url, await customer(base_url))

    [row] = await settled(webhook_db, endpoint.id, 1)
    assert row["status"] == "failed"
    assert [attempt["response_status"] for attempt in row["attempts"]] == [answer.status]
    # Not retried (the schedule's waits are 0.2 s), and a redirect is not followed.
    await webhooks.wait_for(r"failed \(\d+\)", within=5)
    assert len(receiver.requests) == 1
    enabled, reason = await endpoint_state(webhook_db, endpoint.id)
    assert enabled is not disables
    assert (reason is not None) is disables


async def test_429_waits_for_retry_after_when_longer_than_the_schedule(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
    webhook_db: AsyncEngine,
) -> None:
    answers = iter([Answer(status=429, headers={"retry-after": "2"}), Answer(status=204)])
    receiver = await receivers(lambda _request: next(answers))
    endpoint = await create_endpoint(receiver.url, ["order.created"])
    api, base_url = processes.api()
    webhooks = dispatcher(processes)
    await processes.ready(api, webhooks)
    await new_order(base_url, await customer(base_url))

    first, second = await receiver.wait_for(2)
    # The schedule says 0.2 s; Retry-After says 2 s, and wins.
    assert second.at - first.at >= 2.0
    [row] = await settled(webhook_db, endpoint.id, 1)
    assert [attempt["response_status"] for attempt in row["attempts"]] == [429, 204]


async def test_after_the_last_step_the_delivery_fails_and_enough_failures_disable_the_endpoint(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
    webhook_db: AsyncEngine,
) -> None:
    receiver = await receivers(lambda _request: Answer(status=503))
    endpoint = await create_endpoint(receiver.url, ["order.created", "order.status_changed"])
    api, base_url = processes.api()
    webhooks = dispatcher(
        processes, WEBHOOK_RETRY_SCHEDULE="0.1s,0.1s", WEBHOOK_DISABLE_AFTER_FAILURES="2"
    )
    await processes.ready(api, webhooks)
    headers = await customer(base_url)
    order = await new_order(base_url, headers)
    await set_status(base_url, headers, order["id"], "PAID")

    rows = await settled(webhook_db, endpoint.id, 2)
    assert [row["status"] for row in rows] == ["failed", "failed"]
    assert [len(row["attempts"]) for row in rows] == [3, 3]
    enabled, reason = await endpoint_state(webhook_db, endpoint.id)
    assert not enabled
    assert reason == "2 consecutive failed deliveries"
    await webhooks.wait_for("disabled", within=5)

    # Disabled: a new event is not sent to it.
    sent = len(receiver.requests)
    await set_status(base_url, headers, order["id"], "SHIPPED")
    other = await receivers()
    await create_endpoint(other.url, ["order.status_changed"])
    await set_status(base_url, headers, (await new_order(base_url, headers))["id"], "PAID")
    await other.wait_for(1)
    assert len(receiver.requests) == sent


async def test_events_of_one_order_wait_for_the_earlier_ones_and_other_orders_do_not(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
) -> None:
    held = {"order": ""}
    release = asyncio.Event()

    def respond(request: Received) -> Answer:
        order_id = json.loads(request.body)["data"]["id"]
        held["order"] = held["order"] or order_id  # the first order seen is held
        if order_id == held["order"] and not release.is_set():
            return Answer(status=500)  # retried every 0.2 s until released
        return Answer()

    receiver = await receivers(respond)
    await create_endpoint(receiver.url)
    api, base_url = processes.api()
    # Retried every 0.2 s for a minute: the first event stays pending until released.
    webhooks = dispatcher(processes, WEBHOOK_RETRY_SCHEDULE="0.2s," * 300 + "0.2s")
    await processes.ready(api, webhooks)
    headers = await customer(base_url)

    first = await new_order(base_url, headers)
    await receiver.wait_for(1)
    assert held["order"] == first["id"]
    await set_status(base_url, headers, first["id"], "PAID")
    await set_status(base_url, headers, first["id"], "SHIPPED")
    second = await new_order(base_url, headers)
    await set_status(base_url, headers, second["id"], "CANCELED")

    # The other order goes through while the first order's first event keeps failing...
    async def other_order_done() -> bool:
        ids = [json.loads(r.body)["data"]["id"] for r in receiver.requests]
        return ids.count(second["id"]) == 2

    await until(other_order_done, within=30, what="the other order's two events")
    # ...and nothing but that first event of the held order was sent.
    held_seqs = {
        json.loads(r.body)["data"]["event"]["seq"]
        for r in receiver.requests
        if json.loads(r.body)["data"]["id"] == first["id"]
    }
    assert held_seqs == {1}
    release.set()

    async def held_order_done() -> bool:
        seqs = [
            json.loads(r.body)["data"]["event"]["seq"]
            for r in receiver.requests
            if json.loads(r.body)["data"]["id"] == first["id"]
        ]
        return bool(seqs[-3:] == [1, 2, 3])

    await until(held_order_done, within=30, what="the held order's events, in seq order")


async def test_a_hanging_endpoint_does_not_hold_up_another(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
) -> None:
    hanging = await receivers(lambda _request: Answer(hang=True))
    fast = await receivers()
    await create_endpoint(hanging.url)
    fast_endpoint = await create_endpoint(fast.url)
    api, base_url = processes.api()
    # The hanging endpoint's attempts time out only after 60 s: long after this test is done.
    webhooks = dispatcher(
        processes,
        WEBHOOK_TIMEOUT_SECONDS="60",
        WEBHOOK_DISPATCHER_MAX_IN_FLIGHT_PER_ENDPOINT="4",
    )
    await processes.ready(api, webhooks)
    headers = await customer(base_url)
    orders = [await new_order(base_url, headers) for _ in range(10)]

    received = await fast.wait_for(10, within=30)
    assert {json.loads(r.body)["data"]["id"] for r in received} == {o["id"] for o in orders}
    for request in received:
        request.verified(fast_endpoint.secret)
    # The hanging endpoint holds at most its own slots (a few), all still unanswered.
    assert 1 <= len(hanging.requests) <= 8


async def test_a_dispatcher_killed_mid_send_leaves_the_delivery_to_another_with_the_same_id(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
    webhook_db: AsyncEngine,
) -> None:
    answers = iter([Answer(hang=True)])
    receiver = await receivers(lambda _request: next(answers, Answer()))
    endpoint = await create_endpoint(receiver.url, ["order.created"])
    api, base_url = processes.api()
    first = dispatcher(processes, "webhooks-1", WEBHOOK_TIMEOUT_SECONDS="2")
    await processes.ready(api, first)
    await new_order(base_url, await customer(base_url))

    [in_flight] = await receiver.wait_for(1)
    first.signal(signal.SIGKILL)
    await first.wait_exit(within=5)
    second = dispatcher(processes, "webhooks-2", WEBHOOK_TIMEOUT_SECONDS="2")
    await processes.ready(second)

    again = (await receiver.wait_for(2, within=20))[1]
    assert again.headers["webhook-id"] == in_flight.headers["webhook-id"]
    again.verified(endpoint.secret)
    [row] = await settled(webhook_db, endpoint.id, 1)
    assert row["status"] == "succeeded"
    # The attempt lost with the first dispatcher is not in the log: one attempt, the one that worked.
    assert [attempt["response_status"] for attempt in row["attempts"]] == [200]


async def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
    webhook_db: AsyncEngine,
) -> None:
    receiver = await receivers()
    endpoint = await create_endpoint(receiver.url, ["order.created"])
    async with unit_of_work(webhook_db) as uow:
        new_secret = await service.rotate_secret(
            uow=uow, settings=WebhookSettings(secret_overlap_seconds=3600), webhook_id=endpoint.id
        )
    api, base_url = processes.api()
    webhooks = dispatcher(processes)
    await processes.ready(api, webhooks)
    await new_order(base_url, await customer(base_url))

    [request] = await receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    request.verified(endpoint.secret)
    request.verified(new_secret)
    with pytest.raises(WebhookVerificationError):
        request.verified(signing.new_secret())

    # Once the overlap is over, only the new secret signs.
    async with webhook_db.begin() as connection:
        await connection.execute(
            text("UPDATE webhook_endpoints SET previous_secret_until = now() WHERE id = :id"),
            {"id": endpoint.id},
        )
    await new_order(base_url, await customer(base_url))
    later = (await receiver.wait_for(2))[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    later.verified(new_secret)
    with pytest.raises(WebhookVerificationError):
        later.verified(endpoint.secret)


async def test_the_address_is_checked_again_at_send_time(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
    webhook_db: AsyncEngine,
) -> None:
    """Accepted while private targets were allowed; the dispatcher, which does not allow them,
    refuses to connect: the receiver gets nothing and the delivery fails naming the rule."""
    receiver = await receivers()
    endpoint = await create_endpoint(receiver.url, ["order.created"])
    api, base_url = processes.api()
    webhooks = dispatcher(processes, WEBHOOK_ALLOW_PRIVATE_TARGETS="false")
    await processes.ready(api, webhooks)
    await new_order(base_url, await customer(base_url))

    [row] = await settled(webhook_db, endpoint.id, 1)
    assert row["status"] == "failed"
    [attempt] = row["attempts"]
    assert attempt["response_status"] is None
    assert "loopback" in attempt["error"]
    assert receiver.requests == []


async def test_rabbitmq_going_away_and_coming_back_loses_nothing(
    processes: Processes,
    create_endpoint: CreateEndpoint,
    receivers: Receivers,
) -> None:
    """The dispatcher reaches RabbitMQ through a proxy that is cut (connections dropped, new ones
    refused) and restored on the same port, as a broker restart looks from the dispatcher; orders
    made meanwhile wait in the quorum queue."""
    receiver = await receivers()
    endpoint = await create_endpoint(receiver.url, ["order.created"])
    broker = TcpProxy("127.0.0.1", URL(processes.env["RABBITMQ_URL"]).port or 5672)
    await broker.start()
    try:
        api, base_url = processes.api()
        webhooks = dispatcher(
            processes, RABBITMQ_URL=str(URL(processes.env["RABBITMQ_URL"]).with_port(broker.port))
        )
        await processes.ready(api, webhooks)
        headers = await customer(base_url)
        await new_order(base_url, headers)
        await receiver.wait_for(1)

        await broker.stop()
        made = [(await new_order(base_url, headers))["id"] for _ in range(3)]
        await broker.start()

        received = await receiver.wait_for(4, within=30)
        delivered = {json.loads(request.body)["data"]["id"] for request in received}
        assert set(made) <= delivered
        for request in received:
            request.verified(endpoint.secret)
    finally:
        await broker.stop()
