"""Mass assignment and injection through GraphQL (REST has its own in tests/api/test_security.py).

Clients cannot choose what the server decides (an order's id, owner, status, total): the input
types simply have no such fields, which the schema itself shows, and a document naming one is
refused before anything runs. SQL and JSON payloads in every string argument are stored and
returned as plain data.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import UserFactory
from tests.graph.conftest import CREATE_ORDER, graphql

INPUT_FIELDS = """
query($name: String!) { __type(name: $name) { inputFields { name } } }
"""
PAYLOADS = [
    "'; DROP TABLE orders; --",
    '" OR 1=1 --',
    "1' UNION SELECT password_hash FROM users --",
    '{"$where": "1 == 1"}',
    '{"status": "SHIPPED", "user_id": 1}',
    "\\'; SELECT pg_sleep(5); --",
    "<script>alert(1)</script>",
    "Ünïcødé ✓ 注文 🛒",
]


async def _input_fields(client: httpx.AsyncClient, type_name: str) -> set[str]:
    result = await graphql(client, INPUT_FIELDS, {"name": type_name})
    return {field["name"] for field in result.ok()["__type"]["inputFields"]}


async def test_order_inputs_have_no_field_for_what_the_server_decides(
    client: httpx.AsyncClient,
) -> None:
    assert await _input_fields(client, "CreateOrderInput") == {"items", "totalPrice"}
    assert await _input_fields(client, "OrderItemInput") == {
        "productId",
        "name",
        "quantity",
        "price",
    }


async def test_create_order_takes_only_its_input_and_an_idempotency_key(
    client: httpx.AsyncClient,
) -> None:
    query = "{ __schema { mutationType { fields { name args { name } } } } }"

    fields = (await graphql(client, query)).ok()["__schema"]["mutationType"]["fields"]

    arguments = {field["name"]: {arg["name"] for arg in field["args"]} for field in fields}
    assert arguments["createOrder"] == {"input", "idempotencyKey"}
    assert arguments["updateOrderStatus"] == {"id", "status", "expectedVersion", "note"}


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "SHIPPED"},
        {"userId": 1},
        {"id": "00000000-0000-0000-0000-000000000001"},
        {"createdAt": "2000-01-01T00:00:00Z"},
    ],
)
async def test_a_field_the_server_decides_is_refused_before_anything_runs(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine, extra: dict[str, Any]
) -> None:
    user = await users.create()
    order_input = {"items": [{"productId": "sku-1", "quantity": 1, "price": "1.00"}], **extra}

    result = await graphql(client, CREATE_ORDER, {"input": order_input}, headers=user.headers)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.data is None
    async with clean_db.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM orders")) == 0


async def test_the_server_sets_the_owner_status_and_total(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_input = {"items": [{"productId": "sku-1", "quantity": 3, "price": "2.50"}]}

    created = (
        await graphql(client, CREATE_ORDER, {"input": order_input}, headers=user.headers)
    ).ok()

    order = created["createOrder"]
    assert (order["userId"], order["status"], order["totalPrice"]) == (user.id, "PENDING", "7.50")


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_payloads_in_string_fields_are_stored_and_returned_as_plain_data(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine, payload: str
) -> None:
    user = await users.create()
    order_input = {
        "items": [{"productId": payload[:64], "name": payload, "quantity": 1, "price": "1.00"}]
    }

    created = await graphql(client, CREATE_ORDER, {"input": order_input}, headers=user.headers)
    order_id = created.ok()["createOrder"]["id"]
    read = await graphql(
        client,
        "query($id: UUID!) { order(id: $id) { items { productId name } } }",
        {"id": order_id},
        headers=user.headers,
    )
    listed = await graphql(
        client,
        "query($u: Int!) { orders(userId: $u) { items { productId name } } }",
        {"u": user.id},
        headers=user.headers,
    )

    assert read.ok()["order"]["items"] == [{"productId": payload[:64], "name": payload}]
    assert listed.ok()["orders"][0]["items"] == [{"productId": payload[:64], "name": payload}]
    async with clean_db.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM orders")) == 1
        stored = await connection.scalar(text("SELECT items->0->>'name' FROM orders"))
    assert stored == payload


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_payloads_in_the_other_string_arguments_are_just_wrong_values(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine, payload: str
) -> None:
    user = await users.create()

    token = await graphql(
        client,
        "mutation($e: String!, $p: String!) { token(email: $e, password: $p) { accessToken } }",
        {"e": payload, "p": payload},
    )
    register = await graphql(
        client,
        "mutation($e: String!, $p: String!) { register(email: $e, password: $p) { id } }",
        {"e": payload, "p": payload},
    )
    page = await graphql(
        client,
        "query($u: Int!, $a: String) { ordersPage(userId: $u, after: $a) { nextCursor } }",
        {"u": user.id, "a": payload},
        headers=user.headers,
    )
    keyed = await graphql(
        client,
        'mutation($k: String) { createOrder(input: {items: [{productId: "a", quantity: 1, '
        'price: "1.00"}]}, idempotencyKey: $k) { id } }',
        {"k": payload},
        headers=user.headers,
    )

    assert token.codes == ["UNAUTHENTICATED"]
    assert register.codes == ["BAD_USER_INPUT"]
    assert page.codes == ["BAD_USER_INPUT"]
    # A visible-ASCII payload is a fine idempotency key (it is data); any other is refused.
    assert keyed.codes == ([] if payload.isascii() and " " not in payload else ["BAD_USER_INPUT"])
    async with clean_db.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM users")) == 1
