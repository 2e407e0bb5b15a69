"""REST and GraphQL are two views of one domain: the same order, the same cache, the same rules."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import UserFactory, order_body
from tests.graph.conftest import CREATE_ORDER, ORDER_FIELDS, graphql, order_input

ORDER = f"query Order($id: UUID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
UPDATE_STATUS = f"""
mutation Move($id: UUID!, $status: OrderStatus!) {{
  updateOrderStatus(id: $id, status: $status) {{ {ORDER_FIELDS} }}
}}
"""


def _from_rest(order: dict[str, Any]) -> dict[str, Any]:
    """A REST order in GraphQL's spelling, with instants compared as instants."""
    return {
        "id": order["id"],
        "userId": order["user_id"],
        "status": order["status"],
        "totalPrice": order["total_price"],
        "createdAt": datetime.fromisoformat(order["created_at"]),
        "updatedAt": datetime.fromisoformat(order["updated_at"]),
        "items": [
            {
                "productId": item["product_id"],
                "name": item["name"],
                "quantity": item["quantity"],
                "price": item["price"],
            }
            for item in order["items"]
        ],
    }


def _from_graphql(order: dict[str, Any]) -> dict[str, Any]:
    return {
        **order,
        "createdAt": datetime.fromisoformat(order["createdAt"]),
        "updatedAt": datetime.fromisoformat(order["updatedAt"]),
    }


async def test_an_order_created_over_rest_reads_the_same_over_graphql(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    created = await client.post("/orders/", json=order_body(("19.99", 3)), headers=user.headers)

    read = await graphql(client, ORDER, {"id": created.json()["id"]}, headers=user.headers)

    assert _from_graphql(read.ok()["order"]) == _from_rest(created.json())


async def test_an_order_created_over_graphql_reads_the_same_over_rest_from_the_cache(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    created = (
        await graphql(
            client, CREATE_ORDER, {"input": order_input(("0.10", 3))}, headers=user.headers
        )
    ).ok()["createOrder"]

    rest = await client.get(f"/orders/{created['id']}/", headers=user.headers)

    # createOrder stored the order in the cache after its commit, exactly as POST /orders/ does.
    assert rest.headers["X-Cache"] == "HIT"
    assert _from_rest(rest.json()) == _from_graphql(created)
    assert Decimal(rest.json()["total_price"]) == Decimal("0.30")


async def test_a_status_change_over_graphql_is_what_rest_reads_from_the_cache_next(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    created = await client.post("/orders/", json=order_body(), headers=user.headers)
    order_id = created.json()["id"]
    before = await client.get(f"/orders/{order_id}/", headers=user.headers)

    moved = await graphql(
        client, UPDATE_STATUS, {"id": order_id, "status": "PAID"}, headers=user.headers
    )
    after = await client.get(f"/orders/{order_id}/", headers=user.headers)

    assert (before.headers["X-Cache"], before.json()["status"]) == ("HIT", "PENDING")
    assert (after.headers["X-Cache"], after.json()["status"]) == ("HIT", "PAID")
    assert _from_rest(after.json()) == _from_graphql(moved.ok()["updateOrderStatus"])


async def test_a_status_change_over_rest_is_what_graphql_reads_next(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    created = (
        await graphql(client, CREATE_ORDER, {"input": order_input()}, headers=user.headers)
    ).ok()
    order_id = created["createOrder"]["id"]

    patched = await client.patch(
        f"/orders/{order_id}/", json={"status": "CANCELED"}, headers=user.headers
    )
    read = await graphql(client, ORDER, {"id": order_id}, headers=user.headers)

    assert patched.status_code == 200
    assert _from_graphql(read.ok()["order"]) == _from_rest(patched.json())


async def test_both_interfaces_list_the_same_orders(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    await client.post("/orders/", json=order_body(), headers=user.headers)
    await graphql(client, CREATE_ORDER, {"input": order_input(("1.00", 1))}, headers=user.headers)

    rest = await client.get(f"/orders/user/{user.id}/", headers=user.headers)
    listed = await graphql(
        client,
        f"query($u: Int!) {{ orders(userId: $u) {{ {ORDER_FIELDS} }} }}",
        {"u": user.id},
        headers=user.headers,
    )

    assert [_from_graphql(order) for order in listed.ok()["orders"]] == [
        _from_rest(order) for order in rest.json()
    ]
