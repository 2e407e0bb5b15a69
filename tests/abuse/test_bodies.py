"""Odd bodies: invalid JSON of every kind is the client's 400, in the API's error shape, on /graphql
as on REST, and never a traceback; money follows one rule on both interfaces, and no JSON number
the schema admits causes a 500."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.abuse.conftest import Api, codes, post_graphql
from tests.conftest import ApiUser
from tests.support.problems import problem

CREATE_ORDER = "mutation($input: CreateOrderInput!) { createOrder(input: $input) { items { price } totalPrice } }"

HUGE_INTEGER = "9" * 5000
# Bodies no JSON parser should turn into a 500: each names what is wrong with it.
ODD_BODIES: dict[str, bytes] = {
    "integer of 5,000 digits": b'{"query": "{ __typename }", "variables": {"n": '
    + HUGE_INTEGER.encode()
    + b"}}",
    "100,000 nested arrays": b'{"query": "{ __typename }", "variables": {"n": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}",
    "invalid UTF-8": b'{"query": "{ __typename }", "variables": {"n": "\xff\xfe"}}',
    "broken syntax": b'{"query": ',
    "a top-level string": b'"{ __typename }"',
    "a top-level number": b"42",
    "a top-level null": b"null",
}


@pytest.fixture(scope="module")
async def api(shared_api: Api) -> Api:
    return shared_api


@pytest.fixture(scope="module")
async def user(shared_api: Api) -> ApiUser:
    return await shared_api.user()


@pytest.mark.parametrize("name", list(ODD_BODIES))
async def test_invalid_json_on_graphql_is_a_400_graphql_error(api: Api, name: str) -> None:
    async with api.client() as client:
        response = await client.post(
            "/graphql", content=ODD_BODIES[name], headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST", "reason": "MALFORMED_JSON"}
    assert api.process.count("Traceback") == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"items": [{"product_id": "a", "quantity": ' + HUGE_INTEGER.encode() + b', "price": 1}]}',
        b'{"items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"items": [{"product_id": "\xff", "quantity": 1, "price": 1}]}',
    ],
    ids=["integer of 5,000 digits", "100,000 nested arrays", "invalid UTF-8"],
)
async def test_the_same_bodies_on_rest_are_a_400_in_the_same_shape(
    api: Api, user: ApiUser, body: bytes
) -> None:
    async with api.client() as client:
        response = await client.post(
            "/orders/", content=body, headers={**user.headers, "Content-Type": "application/json"}
        )

    problem(response, 400, "BAD_REQUEST", "MALFORMED_JSON")
    assert api.process.count("Traceback") == 0


async def _create_rest(client: httpx.AsyncClient, user: ApiUser, price: Any) -> httpx.Response:
    return await client.post(
        "/orders/",
        json={"items": [{"product_id": "a", "quantity": 2, "price": price}]},
        headers=user.headers,
    )


async def _create_graphql(client: httpx.AsyncClient, user: ApiUser, price: Any) -> httpx.Response:
    variables = {"input": {"items": [{"productId": "a", "quantity": 2, "price": price}]}}
    return await post_graphql(client, CREATE_ORDER, variables, user.headers)


@pytest.mark.parametrize("price", ["1e2", "１０", "1_000", "+5", " 5", "5.", "-0", "1.005"])
async def test_graphql_refuses_the_money_strings_rest_refuses(
    api: Api, user: ApiUser, price: str
) -> None:
    async with api.client() as client:
        rest = await _create_rest(client, user, price)
        graphql = await _create_graphql(client, user, price)

    assert rest.status_code == 422
    assert codes(graphql) == ["BAD_USER_INPUT"]
    assert graphql.json()["data"] is None


# JSON numbers: what each interface must answer (the price, or refusal), never a 500.
NUMBERS: list[tuple[str, str | None]] = [
    ("-0.0", "0.00"),
    ("-0", "0.00"),
    ("0E-10", "0.00"),
    ("1e2", "100.00"),
    ("5E-1", "0.50"),
    ("1e400", None),
    ("-1e400", None),
    ("1e-400", "0.00"),
    ("1E+308", None),
    ("12.345", None),
]


@pytest.mark.parametrize(("number", "price"), NUMBERS)
async def test_json_numbers_never_cause_a_500_and_zero_has_no_sign(
    api: Api, user: ApiUser, number: str, price: str | None
) -> None:
    item = f'{{"product_id": "a", "quantity": 2, "price": {number}}}'
    gql_item = f'{{"productId": "a", "quantity": 2, "price": {number}}}'
    async with api.client() as client:
        rest = await client.post(
            "/orders/",
            content=f'{{"items": [{item}]}}',
            headers={**user.headers, "Content-Type": "application/json"},
        )
        graphql = await client.post(
            "/graphql",
            content=f'{{"query": "{CREATE_ORDER}", "variables": {{"input": {{"items": [{gql_item}]}}}}}}',
            headers={**user.headers, "Content-Type": "application/json"},
        )

    if price is None:
        assert rest.status_code == 422, rest.text
        assert codes(graphql) == ["BAD_USER_INPUT"]
    else:
        assert rest.status_code == 201, rest.text
        assert rest.json()["items"][0]["price"] == price
        created = graphql.json()["data"]["createOrder"]
        assert created["items"][0]["price"] == price
        assert rest.json()["total_price"] == created["totalPrice"] == f"{2 * Decimal(price):.2f}"
    assert api.process.count("Traceback") == 0
