"""An order's history and version through GraphQL, and `expectedVersion` for safe updates."""

from __future__ import annotations

import httpx

from edge.resources import Resources
from tests.api.test_cache import count_queries
from tests.conftest import UserFactory
from tests.graph.conftest import CREATE_ORDER, graphql, order_input

HISTORY = """
query History($id: UUID!) {
  order(id: $id) { version history { seq kind status previousStatus at } }
}
"""
MOVE = """
mutation Move($id: UUID!, $status: OrderStatus!, $expected: Int) {
  updateOrderStatus(id: $id, status: $status, expectedVersion: $expected) { status version }
}
"""


async def _create(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await graphql(client, CREATE_ORDER, {"input": order_input()}, headers=headers)
    order_id: str = created.ok()["createOrder"]["id"]
    return order_id


async def test_history_and_version_follow_every_change(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user.headers)
    moved = await graphql(
        client, MOVE, {"id": order_id, "status": "PAID", "expected": 1}, headers=user.headers
    )

    read = (await graphql(client, HISTORY, {"id": order_id}, headers=user.headers)).ok()["order"]
    rest = (await client.get(f"/orders/{order_id}/history/", headers=user.headers)).json()

    assert moved.ok()["updateOrderStatus"] == {"status": "PAID", "version": 2}
    assert read["version"] == 2
    assert [(e["seq"], e["kind"], e["status"], e["previousStatus"]) for e in read["history"]] == [
        (1, "CREATED", "PENDING", None),
        (2, "STATUS_CHANGED", "PAID", "PENDING"),
    ]
    assert [(e["seq"], e["kind"]) for e in rest] == [(1, "CREATED"), (2, "STATUS_CHANGED")]


async def test_a_stale_expected_version_is_precondition_failed_and_changes_nothing(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _create(client, user.headers)
    await graphql(client, MOVE, {"id": order_id, "status": "PAID"}, headers=user.headers)

    stale = await graphql(
        client, MOVE, {"id": order_id, "status": "CANCELED", "expected": 1}, headers=user.headers
    )

    assert stale.codes == ["PRECONDITION_FAILED"]
    assert stale.data is None
    read = (await graphql(client, HISTORY, {"id": order_id}, headers=user.headers)).ok()["order"]
    assert read["version"] == 2
    assert [e["status"] for e in read["history"]] == ["PENDING", "PAID"]


async def test_another_users_history_is_not_found(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    order_id = await _create(client, alice.headers)

    foreign = await graphql(client, HISTORY, {"id": order_id}, headers=bob.headers)

    assert foreign.codes == ["NOT_FOUND"]


async def test_a_subscription_posted_over_http_is_refused_as_bad_input(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    posted = await graphql(client, "subscription { myOrderEvents { seq } }", headers=user.headers)

    assert posted.codes == ["BAD_USER_INPUT"]
    assert "WebSocket" in posted.errors[0]["message"]


async def test_a_page_of_orders_with_their_histories_costs_one_history_query(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources
) -> None:
    user = await users.create()
    order_ids = [await _create(client, user.headers) for _ in range(4)]
    await graphql(client, MOVE, {"id": order_ids[0], "status": "PAID"}, headers=user.headers)

    with count_queries(app_state.engine.sync_engine) as statements:
        result = await graphql(
            client,
            "query($u: Int!) { orders(userId: $u) { id history { seq kind } } }",
            {"u": user.id},
            headers=user.headers,
        )

    histories = {o["id"]: [e["kind"] for e in o["history"]] for o in result.ok()["orders"]}
    assert histories == {
        order_ids[0]: ["CREATED", "STATUS_CHANGED"],
        **{order_id: ["CREATED"] for order_id in order_ids[1:]},
    }
    assert len([s for s in statements if "FROM order_events" in s]) == 1
