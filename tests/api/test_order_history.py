"""An order's history over REST, and optimistic concurrency with ETags (If-None-Match, If-Match)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ApiUser, UserFactory, order_body
from tests.support.problems import problem


async def _create(client: httpx.AsyncClient, user: ApiUser) -> str:
    response = await client.post("/orders/", json=order_body(), headers=user.headers)
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    order_id: str = response.json()["id"]
    return order_id


async def _patch(
    client: httpx.AsyncClient, user: ApiUser, order_id: str, status: str, **headers: str
) -> httpx.Response:
    return await client.patch(
        f"/orders/{order_id}/", json={"status": status}, headers={**user.headers, **headers}
    )


async def test_history_lists_every_change_oldest_first(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user)
    await _patch(client, user, order_id, "PAID")
    await _patch(client, user, order_id, "SHIPPED")

    with_slash = await client.get(f"/orders/{order_id}/history/", headers=user.headers)
    without_slash = await client.get(f"/orders/{order_id}/history", headers=user.headers)

    assert with_slash.status_code == without_slash.status_code == 200
    assert with_slash.json() == without_slash.json()
    events = with_slash.json()
    assert [(e["seq"], e["kind"], e["status"], e["previous_status"]) for e in events] == [
        (1, "CREATED", "PENDING", None),
        (2, "STATUS_CHANGED", "PAID", "PENDING"),
        (3, "STATUS_CHANGED", "SHIPPED", "PAID"),
    ]
    assert set(events[0]) == {"seq", "kind", "status", "previous_status", "at", "actor", "note"}
    owner = {"user_id": user.id, "role": "customer"}
    assert [(e["actor"], e["note"]) for e in events] == [(owner, None)] * 3
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert {at.utcoffset() for at in times} == {timedelta(0)}
    assert times == sorted(times)


async def test_history_is_its_owners_only(client: httpx.AsyncClient, users: UserFactory) -> None:
    alice, bob = await users.create(), await users.create()
    order_id = await _create(client, alice)

    foreign = await client.get(f"/orders/{order_id}/history/", headers=bob.headers)
    unknown = await client.get(
        "/orders/00000000-0000-0000-0000-000000000000/history/", headers=alice.headers
    )
    malformed = await client.get("/orders/not-a-uuid/history/", headers=alice.headers)
    anonymous = await client.get(f"/orders/{order_id}/history/")

    for answer in (foreign, unknown):
        problem(answer, 404, "NOT_FOUND", "ORDER_NOT_FOUND", detail="Order not found")
    assert malformed.status_code == 422
    assert anonymous.status_code == 401


async def test_a_refused_change_leaves_no_history(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user)
    await _patch(client, user, order_id, "CANCELED")

    refused = await _patch(client, user, order_id, "PAID")

    assert refused.status_code == 409
    history = (await client.get(f"/orders/{order_id}/history/", headers=user.headers)).json()
    assert [e["kind"] for e in history] == ["CREATED", "STATUS_CHANGED"]


async def test_each_event_keeps_the_requests_correlation_id(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    created = await client.post(
        "/orders/", json=order_body(), headers={**user.headers, "X-Request-ID": "req-create-1"}
    )
    order_id = created.json()["id"]
    await client.patch(
        f"/orders/{order_id}/",
        json={"status": "PAID"},
        headers={**user.headers, "X-Request-ID": "req-pay-1"},
    )

    async with clean_db.connect() as connection:
        rows = await connection.execute(
            text("SELECT seq, correlation_id FROM order_events WHERE order_id = :id ORDER BY seq"),
            {"id": order_id},
        )
    assert rows.all() == [(1, "req-create-1"), (2, "req-pay-1")]


async def test_get_answers_the_version_as_etag_and_304_while_the_copy_is_current(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user)

    first = await client.get(f"/orders/{order_id}/", headers=user.headers)
    unchanged = await client.get(
        f"/orders/{order_id}/", headers={**user.headers, "If-None-Match": first.headers["ETag"]}
    )
    await _patch(client, user, order_id, "PAID")
    changed = await client.get(
        f"/orders/{order_id}/", headers={**user.headers, "If-None-Match": first.headers["ETag"]}
    )

    assert first.headers["ETag"] == '"1"'
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["ETag"] == '"1"'
    assert changed.status_code == 200
    assert changed.headers["ETag"] == '"2"'
    assert changed.json()["status"] == "PAID"
    assert "version" not in changed.json()


async def test_if_match_with_a_stale_etag_is_412_and_changes_nothing(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user)
    paid = await _patch(client, user, order_id, "PAID", **{"If-Match": '"1"'})

    stale = await _patch(client, user, order_id, "CANCELED", **{"If-Match": '"1"'})
    garbled = await _patch(client, user, order_id, "CANCELED", **{"If-Match": "one"})

    assert paid.status_code == 200
    assert paid.headers["ETag"] == '"2"'
    assert stale.status_code == garbled.status_code == 412
    assert stale.headers["ETag"] == garbled.headers["ETag"] == '"2"'
    problem(
        stale,
        412,
        "PRECONDITION_FAILED",
        "VERSION_MISMATCH",
        detail="The order has changed: its current version is 2; read it again before changing it",
    )
    current = await client.get(f"/orders/{order_id}/", headers=user.headers)
    assert current.json()["status"] == "PAID"
    history = (await client.get(f"/orders/{order_id}/history/", headers=user.headers)).json()
    assert len(history) == 2


async def test_without_if_match_the_change_applies_to_the_current_version(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user)
    await _patch(client, user, order_id, "PAID")

    unconditional = await _patch(client, user, order_id, "SHIPPED")
    any_version = await _patch(client, user, order_id, "CANCELED", **{"If-Match": "*"})

    assert unconditional.status_code == 200
    assert unconditional.headers["ETag"] == '"3"'
    # "*" asks only that the order exists: the status rule answers (SHIPPED is final).
    assert any_version.status_code == 409


async def test_the_openapi_documents_the_conditional_answers(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    get, patch = paths["/orders/{order_id}/"]["get"], paths["/orders/{order_id}/"]["patch"]

    assert "ETag" in get["responses"]["304"]["headers"]
    assert "ETag" in get["responses"]["200"]["headers"]
    assert "ETag" in patch["responses"]["412"]["headers"]
    assert {p["name"] for p in get["parameters"] if p["in"] == "header"} == {"If-None-Match"}
    assert {p["name"] for p in patch["parameters"] if p["in"] == "header"} == {"If-Match"}
    assert "/orders/{order_id}/history/" in paths
    events = paths["/orders/{order_id}/events/"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
    assert {p["name"] for p in events["parameters"] if p["in"] == "header"} == {"Last-Event-ID"}
