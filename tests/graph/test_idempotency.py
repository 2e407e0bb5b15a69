"""createOrder(input, idempotencyKey): the same rule as REST's Idempotency-Key, from the same service."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import UserFactory, order_body
from tests.graph.conftest import graphql, order_input

CREATE = """
mutation($input: CreateOrderInput!, $key: String) {
  createOrder(input: $input, idempotencyKey: $key) { id status }
}
"""


async def _order_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM orders")) or 0)


async def test_the_same_key_and_input_return_the_first_order(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    variables = {"input": order_input(), "key": str(uuid.uuid4())}

    first = await graphql(client, CREATE, variables, headers=user.headers)
    retry = await graphql(client, CREATE, variables, headers=user.headers)

    assert retry.ok()["createOrder"]["id"] == first.ok()["createOrder"]["id"]
    assert await _order_count(clean_db) == 1


async def test_the_same_key_with_other_input_is_bad_user_input(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    key = str(uuid.uuid4())
    await graphql(
        client, CREATE, {"input": order_input(("1.00", 1)), "key": key}, headers=user.headers
    )

    reused = await graphql(
        client, CREATE, {"input": order_input(("2.00", 1)), "key": key}, headers=user.headers
    )

    assert reused.codes == ["BAD_USER_INPUT"]
    assert "already used" in reused.errors[0]["message"]
    assert await _order_count(clean_db) == 1


async def test_a_malformed_key_is_bad_user_input_at_its_argument(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()

    result = await graphql(
        client, CREATE, {"input": order_input(), "key": "two words"}, headers=user.headers
    )

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["errors"][0]["loc"] == ["idempotencyKey"]
    assert await _order_count(clean_db) == 0


async def test_a_key_used_over_rest_replays_over_graphql(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    key = str(uuid.uuid4())
    rest = await client.post(
        "/orders/", json=order_body(), headers={**user.headers, "Idempotency-Key": key}
    )

    over_graphql = await graphql(
        client, CREATE, {"input": order_input(), "key": key}, headers=user.headers
    )

    assert over_graphql.ok()["createOrder"]["id"] == rest.json()["id"]
    assert await _order_count(clean_db) == 1
