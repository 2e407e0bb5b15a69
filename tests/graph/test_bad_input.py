"""Text PostgreSQL cannot store (NUL, lone surrogates) in GraphQL arguments: a client's mistake
(BAD_USER_INPUT) or wrong credentials, never INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import UserFactory
from tests.graph.conftest import GraphQLResponse


async def _raw(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> GraphQLResponse:
    # json.dumps writes "\x00" as \u0000 and a lone surrogate as \ud800, as a JSON client would;
    # httpx's own encoder refuses lone surrogates.
    body = json.dumps({"query": query, "variables": variables}).encode()
    response = await client.post(
        "/graphql", content=body, headers={**(headers or {}), "Content-Type": "application/json"}
    )
    return GraphQLResponse(response)


@pytest.mark.parametrize("email", ["a\x00b@example.com", "\ud800@example.com"])
async def test_token_with_text_postgresql_cannot_store_is_unauthenticated(
    client: httpx.AsyncClient, email: str
) -> None:
    query = 'mutation($e: String!) { token(email: $e, password: "whatever1") { accessToken } }'

    result = await _raw(client, query, {"e": email})

    assert result.codes == ["UNAUTHENTICATED"], result.errors


@pytest.mark.parametrize("product_id", ["sku\x00", "\ud800"])
async def test_create_order_with_text_postgresql_cannot_store_is_bad_user_input(
    client: httpx.AsyncClient, users: UserFactory, product_id: str
) -> None:
    user = await users.create()
    query = (
        "mutation($p: String!) "
        '{ createOrder(input: {items: [{productId: $p, quantity: 1, price: "1.00"}]}) { id } }'
    )

    result = await _raw(client, query, {"p": product_id}, user.headers)

    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["errors"][0]["loc"] == ["items", 0, "productId"]


async def test_register_with_a_lone_surrogate_in_the_password_succeeds(
    client: httpx.AsyncClient,
) -> None:
    query = 'mutation($p: String!) { register(email: "odd@example.com", password: $p) { id } }'

    result = await _raw(client, query, {"p": "\ud800 long enough"})

    assert result.ok()["register"]["id"]
