"""One error contract: the same failure answers the same `code` and `reason` on both interfaces
(REST Problem Details, GraphQL `extensions`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from api.settings import ApiProcessSettings
from tests.conftest import ApiUser, UserFactory, order_body
from tests.graph.conftest import CREATE_ORDER, graphql, order_input
from tests.support.problems import problem

ORDER = "query Order($id: UUID!) { order(id: $id) { id } }"
ORDERS = "query Orders($userId: Int!) { orders(userId: $userId) { id } }"
MOVE = """
mutation Move($id: UUID!, $status: OrderStatus!, $version: Int) {
  updateOrderStatus(id: $id, status: $status, expectedVersion: $version) { id }
}
"""
CREATE_WITH_KEY = """
mutation Create($input: CreateOrderInput!, $key: String) {
  createOrder(input: $input, idempotencyKey: $key) { id }
}
"""
REGISTER = "mutation R($email: String!, $password: String!) { register(email: $email, password: $password) { id } }"
TOKEN = "mutation T($email: String!, $password: String!) { token(email: $email, password: $password) { accessToken } }"


async def _graphql_error(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    answer = await graphql(client, query, variables, headers=headers)
    [error] = answer.errors
    extensions: dict[str, Any] = error["extensions"]
    return extensions


def _same(rest: dict[str, Any], extensions: dict[str, Any]) -> None:
    assert (rest["code"], rest.get("reason")) == (extensions["code"], extensions.get("reason"))


async def _order(client: httpx.AsyncClient, user: ApiUser) -> str:
    created = await client.post("/orders/", json=order_body(), headers=user.headers)
    assert created.status_code == 201, created.text
    order_id: str = created.json()["id"]
    return order_id


async def test_a_taken_email(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()
    credentials = {"email": user.email, "password": "correct-horse-battery-staple-9"}

    rest = await client.post("/register/", json=credentials)
    extensions = await _graphql_error(client, REGISTER, credentials)

    _same(problem(rest, 409, "CONFLICT", "EMAIL_TAKEN"), extensions)


async def test_wrong_credentials(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()

    rest = await client.post("/token", data={"username": user.email, "password": "wrong-one"})
    extensions = await _graphql_error(client, TOKEN, {"email": user.email, "password": "wrong-one"})

    body = problem(rest, 401, "UNAUTHENTICATED", "INVALID_CREDENTIALS")
    assert body["error"] == "invalid_grant"
    assert rest.headers["WWW-Authenticate"] == "Bearer"
    _same(body, extensions)


async def test_an_illegal_status_move(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()
    order_id = await _order(client, user)
    await client.patch(f"/orders/{order_id}/", json={"status": "CANCELED"}, headers=user.headers)

    rest = await client.patch(f"/orders/{order_id}/", json={"status": "PAID"}, headers=user.headers)
    extensions = await _graphql_error(
        client, MOVE, {"id": order_id, "status": "PAID"}, headers=user.headers
    )

    _same(problem(rest, 409, "CONFLICT", "INVALID_TRANSITION"), extensions)


async def test_a_stale_version(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()
    order_id = await _order(client, user)

    rest = await client.patch(
        f"/orders/{order_id}/",
        json={"status": "PAID"},
        headers={**user.headers, "If-Match": '"7"'},
    )
    extensions = await _graphql_error(
        client, MOVE, {"id": order_id, "status": "PAID", "version": 7}, headers=user.headers
    )

    _same(problem(rest, 412, "PRECONDITION_FAILED", "VERSION_MISMATCH"), extensions)
    assert rest.headers["ETag"] == '"1"'


async def test_a_reused_idempotency_key(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()
    key = str(uuid.uuid4())
    headers = {**user.headers, "Idempotency-Key": key}
    await client.post("/orders/", json=order_body(("1.00", 1)), headers=headers)

    rest = await client.post("/orders/", json=order_body(("2.00", 1)), headers=headers)
    extensions = await _graphql_error(
        client, CREATE_WITH_KEY, {"input": order_input(("3.00", 1)), "key": key}, user.headers
    )

    _same(problem(rest, 422, "BAD_USER_INPUT", "IDEMPOTENCY_KEY_REUSED"), extensions)


async def test_an_order_of_someone_else(client: httpx.AsyncClient, users: UserFactory) -> None:
    owner, stranger = await users.create(), await users.create()
    order_id = await _order(client, owner)

    rest = await client.get(f"/orders/{order_id}/history/", headers=stranger.headers)
    extensions = await _graphql_error(client, ORDER, {"id": order_id}, stranger.headers)

    _same(problem(rest, 404, "NOT_FOUND", "ORDER_NOT_FOUND"), extensions)


async def test_the_orders_of_someone_else(client: httpx.AsyncClient, users: UserFactory) -> None:
    owner, stranger = await users.create(), await users.create()

    rest = await client.get(f"/orders/user/{owner.id}/", headers=stranger.headers)
    extensions = await _graphql_error(client, ORDERS, {"userId": owner.id}, stranger.headers)

    _same(problem(rest, 403, "FORBIDDEN", "NOT_OWNER"), extensions)


def _expired_token(settings: ApiProcessSettings, user_id: int) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "iat": now - 7200,
        "exp": now - 3600,
        "iss": settings.auth.jwt_issuer,
        "aud": settings.auth.jwt_audience,
    }
    return jwt.encode(claims, settings.auth.jwt_private_key_path.read_bytes(), algorithm="RS256")


@pytest.mark.parametrize(
    ("token", "reason"),
    [(None, "NOT_AUTHENTICATED"), ("not.a.token", "INVALID_TOKEN"), ("expired", "TOKEN_EXPIRED")],
)
async def test_a_missing_invalid_or_expired_token(
    client: httpx.AsyncClient,
    users: UserFactory,
    settings: ApiProcessSettings,
    token: str | None,
    reason: str,
) -> None:
    user = await users.create()
    if token == "expired":
        token = _expired_token(settings, user.id)
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    rest = await client.get(f"/orders/user/{user.id}/", headers=headers)
    extensions = await _graphql_error(client, ORDERS, {"userId": user.id}, headers)

    _same(problem(rest, 401, "UNAUTHENTICATED", reason), extensions)
    assert rest.headers["WWW-Authenticate"] == "Bearer"


async def test_an_invalid_field(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()

    rest = await client.post("/orders/", json=order_body(("-1.00", 1)), headers=user.headers)
    extensions = await _graphql_error(
        client, CREATE_ORDER, {"input": order_input(("-1.00", 1))}, user.headers
    )

    body = problem(rest, 422, "BAD_USER_INPUT", "VALIDATION_FAILED")
    [field] = body["errors"]
    [graphql_field] = extensions["errors"]
    assert field["loc"] == ["body", "items", 0, "price"]
    assert graphql_field["loc"] == ["items", 0, "price"]
    assert {**field, "loc": None} == {**graphql_field, "loc": None}
    _same(body, extensions)


async def test_broken_json(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()
    broken, json_type = b'{"items": [', {"Content-Type": "application/json"}

    rest = await client.post("/orders/", content=broken, headers={**user.headers, **json_type})
    over_graphql = await client.post("/graphql", content=broken, headers=json_type)

    body = problem(rest, 400, "BAD_REQUEST", "MALFORMED_JSON")
    assert over_graphql.status_code == 400
    [error] = over_graphql.json()["errors"]
    _same(body, error["extensions"])
