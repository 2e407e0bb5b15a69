"""Orders through GraphQL: every operation, its errors, and privacy between users."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from edge.resources import Resources
from tests.api.test_cache import count_queries
from tests.conftest import ApiUser, UserFactory
from tests.graph.conftest import CREATE_ORDER, ORDER_FIELDS, graphql, order_input

ORDER = f"query Order($id: UUID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
ORDERS = f"""
query Orders($userId: Int!, $limit: Int, $after: String) {{
  orders(userId: $userId, limit: $limit, after: $after) {{ {ORDER_FIELDS} }}
}}
"""
ORDERS_PAGE = """
query Page($userId: Int!, $limit: Int, $after: String) {
  ordersPage(userId: $userId, limit: $limit, after: $after) { items { id } nextCursor }
}
"""
UPDATE_STATUS = f"""
mutation Move($id: UUID!, $status: OrderStatus!) {{
  updateOrderStatus(id: $id, status: $status) {{ {ORDER_FIELDS} }}
}}
"""


async def _create(
    client: httpx.AsyncClient, user: ApiUser, order: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = await graphql(
        client, CREATE_ORDER, {"input": order or order_input()}, headers=user.headers
    )
    created: dict[str, Any] = result.ok()["createOrder"]
    return created


async def test_create_an_order_and_read_it_back(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    created = await _create(client, user, order_input(("5.50", 2), ("6.00", 1)))
    read = (await graphql(client, ORDER, {"id": created["id"]}, headers=user.headers)).ok()

    assert created["status"] == "PENDING"
    assert created["userId"] == user.id
    assert created["totalPrice"] == "17.00"
    assert created["items"] == [
        {"productId": "sku-0", "name": "Item 0", "quantity": 2, "price": "5.50"},
        {"productId": "sku-1", "name": "Item 1", "quantity": 1, "price": "6.00"},
    ]
    assert read["order"] == created


async def test_prices_may_be_sent_as_numbers_and_a_name_may_be_left_out(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    created = await _create(
        client, user, {"items": [{"productId": "sku-9", "quantity": 3, "price": 2.5}]}
    )

    assert created["items"] == [
        {"productId": "sku-9", "name": None, "quantity": 3, "price": "2.50"}
    ]
    assert created["totalPrice"] == "7.50"


async def test_a_matching_total_is_accepted_and_a_wrong_one_is_bad_input(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    right = await graphql(
        client,
        CREATE_ORDER,
        {"input": {**order_input(), "totalPrice": "17.00"}},
        headers=user.headers,
    )
    wrong = await graphql(
        client,
        CREATE_ORDER,
        {"input": {**order_input(), "totalPrice": "1.00"}},
        headers=user.headers,
    )

    assert right.ok()["createOrder"]["totalPrice"] == "17.00"
    assert wrong.codes == ["BAD_USER_INPUT"]
    assert "does not match the items' total 17.00" in wrong.errors[0]["message"]


@pytest.mark.parametrize(
    ("items", "loc"),
    [
        ([], ["items"]),
        ([{"productId": "a", "quantity": 0, "price": "1.00"}], ["items", 0, "quantity"]),
        ([{"productId": "a", "quantity": 1, "price": "-1.00"}], ["items", 0, "price"]),
        ([{"productId": "a", "quantity": 1, "price": "1.001"}], ["items", 0, "price"]),
        ([{"productId": "", "quantity": 1, "price": "1.00"}], ["items", 0, "productId"]),
    ],
)
async def test_invalid_orders_are_bad_user_input_where_rest_says_422(
    client: httpx.AsyncClient, users: UserFactory, items: list[dict[str, Any]], loc: list[Any]
) -> None:
    user = await users.create()

    result = await graphql(client, CREATE_ORDER, {"input": {"items": items}}, headers=user.headers)
    rest_items = [
        {"product_id": i["productId"], "quantity": i["quantity"], "price": i["price"]}
        for i in items
    ]
    rest = await client.post("/orders/", json={"items": rest_items}, headers=user.headers)

    assert result.codes == ["BAD_USER_INPUT"]
    assert [error["loc"] for error in result.errors[0]["extensions"]["errors"]] == [loc]
    assert rest.status_code == 422
    assert result.data is None
    assert (await graphql(client, ORDERS, {"userId": user.id}, headers=user.headers)).ok() == {
        "orders": []
    }


async def test_a_price_that_is_not_a_number_is_bad_user_input(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    items = [{"productId": "a", "quantity": 1, "price": "twelve"}]

    result = await graphql(client, CREATE_ORDER, {"input": {"items": items}}, headers=user.headers)

    # Judged by the domain's money rule, the one REST applies, and located like REST's errors.
    assert result.codes == ["BAD_USER_INPUT"]
    assert "items.0.price" in result.errors[0]["message"]


async def test_creating_an_order_needs_a_token(client: httpx.AsyncClient) -> None:
    result = await graphql(client, CREATE_ORDER, {"input": order_input()})

    assert result.codes == ["UNAUTHENTICATED"]


async def test_status_moves_follow_the_rules(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()
    order = await _create(client, user)

    paid = await graphql(
        client, UPDATE_STATUS, {"id": order["id"], "status": "PAID"}, headers=user.headers
    )
    back = await graphql(
        client, UPDATE_STATUS, {"id": order["id"], "status": "PENDING"}, headers=user.headers
    )

    assert paid.ok()["updateOrderStatus"]["status"] == "PAID"
    assert paid.ok()["updateOrderStatus"]["updatedAt"] > order["updatedAt"]
    assert back.codes == ["CONFLICT"]
    assert back.errors[0]["message"] == "Cannot change order status from PAID to PENDING"
    read = await graphql(client, ORDER, {"id": order["id"]}, headers=user.headers)
    assert read.ok()["order"]["status"] == "PAID"


async def test_an_unknown_status_is_rejected_by_the_schema(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order = await _create(client, user)

    result = await graphql(
        client, UPDATE_STATUS, {"id": order["id"], "status": "LOST"}, headers=user.headers
    )

    assert result.codes == ["BAD_USER_INPUT"]


async def test_another_users_order_is_not_found_exactly_like_an_unknown_one(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    order = await _create(client, alice)

    foreign = await graphql(client, ORDER, {"id": order["id"]}, headers=bob.headers)
    unknown = await graphql(client, ORDER, {"id": str(uuid.uuid4())}, headers=bob.headers)
    move = await graphql(
        client, UPDATE_STATUS, {"id": order["id"], "status": "CANCELED"}, headers=bob.headers
    )

    assert foreign.codes == unknown.codes == move.codes == ["NOT_FOUND"]
    assert foreign.errors[0]["message"] == unknown.errors[0]["message"] == "Order not found"
    assert foreign.data == unknown.data == {"order": None}
    still = await graphql(client, ORDER, {"id": order["id"]}, headers=alice.headers)
    assert still.ok()["order"]["status"] == "PENDING"


async def test_listing_another_users_orders_is_forbidden(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    await _create(client, alice)

    result = await graphql(client, ORDERS, {"userId": alice.id}, headers=bob.headers)

    assert result.codes == ["FORBIDDEN"]
    assert result.errors[0]["message"] == "You can list only your own orders"
    assert result.data is None


async def test_orders_are_listed_newest_first_page_by_page(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    created = [(await _create(client, user))["id"] for _ in range(5)]
    newest_first = created[::-1]

    everything = (await graphql(client, ORDERS, {"userId": user.id}, headers=user.headers)).ok()
    first = (
        await graphql(client, ORDERS_PAGE, {"userId": user.id, "limit": 2}, headers=user.headers)
    ).ok()["ordersPage"]
    second = (
        await graphql(
            client,
            ORDERS_PAGE,
            {"userId": user.id, "limit": 2, "after": first["nextCursor"]},
            headers=user.headers,
        )
    ).ok()["ordersPage"]
    via_orders = (
        await graphql(
            client,
            ORDERS,
            {"userId": user.id, "limit": 10, "after": second["nextCursor"]},
            headers=user.headers,
        )
    ).ok()["orders"]

    assert [order["id"] for order in everything["orders"]] == newest_first
    assert [order["id"] for order in first["items"]] == newest_first[:2]
    assert [order["id"] for order in second["items"]] == newest_first[2:4]
    assert [order["id"] for order in via_orders] == newest_first[4:]


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"limit": 0}, "BAD_USER_INPUT"),
        ({"limit": 101}, "BAD_USER_INPUT"),
        ({"after": "not-a-cursor"}, "BAD_USER_INPUT"),
        ({"after": "x" * 201}, "BAD_USER_INPUT"),
    ],
)
async def test_a_bad_page_request_is_bad_user_input(
    client: httpx.AsyncClient, users: UserFactory, variables: dict[str, Any], code: str
) -> None:
    user = await users.create()

    result = await graphql(client, ORDERS, {"userId": user.id, **variables}, headers=user.headers)

    assert result.codes == [code]


async def test_owners_are_loaded_in_one_query_for_a_whole_list(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources
) -> None:
    user = await users.create()
    for _ in range(4):
        await _create(client, user)

    with count_queries(app_state.engine.sync_engine) as statements:
        result = await graphql(
            client,
            "query($u: Int!) { orders(userId: $u) { id owner { id email } } me { email } }",
            {"u": user.id},
            headers=user.headers,
        )

    data = result.ok()
    assert {order["owner"]["email"] for order in data["orders"]} == {user.email}
    assert data["me"]["email"] == user.email
    user_queries = [s for s in statements if "FROM users" in s]
    assert len(user_queries) == 1, user_queries


async def test_sibling_root_fields_each_use_their_own_session(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    ids = [(await _create(client, user))["id"] for _ in range(3)]
    fields = " ".join(
        f'o{n}: order(id: "{order_id}") {{ id status }}' for n, order_id in enumerate(ids)
    )
    query = f"query($u: Int!) {{ {fields} list: orders(userId: $u) {{ id }} me {{ id }} }}"

    data = (await graphql(client, query, {"u": user.id}, headers=user.headers)).ok()

    assert [data[f"o{n}"]["id"] for n in range(3)] == ids
    assert len(data["list"]) == 3
    assert data["me"]["id"] == user.id
