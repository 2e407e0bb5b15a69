"""Client mistakes are answered as such (4xx, an error code a client can branch on) and logged below
ERROR: a resume point past the history's range, a query over the subscriptions-only protocol, a weak
password, a token whose account was deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.abuse.conftest import Api, codes, post_graphql
from tests.conftest import ApiUser, order_body
from tests.support.live import GraphQLSocket
from tests.support.problems import problem

ERROR_LINE = r" ERROR |Traceback"
CREATE_ORDER = "mutation($input: CreateOrderInput!) { createOrder(input: $input) { id } }"
UPDATE_STATUS = "mutation($id: UUID!) { updateOrderStatus(id: $id, status: PAID) { status } }"
REGISTER = "mutation($e: String!, $p: String!) { register(email: $e, password: $p) { id } }"


@pytest.fixture(scope="module")
async def api(shared_api: Api) -> Api:
    return shared_api


@pytest.fixture(scope="module")
async def user(shared_api: Api) -> ApiUser:
    return await shared_api.user()


async def _order(api: Api, user: ApiUser) -> str:
    async with api.client() as client:
        created = await client.post("/orders/", json=order_body(("5.00", 1)), headers=user.headers)
    assert created.status_code == 201, created.text
    order_id: str = created.json()["id"]
    return order_id


@pytest.mark.parametrize("last_event_id", ["2147483648", "99999999999999999999", "-1"])
async def test_a_last_event_id_outside_the_seq_range_is_a_422(
    api: Api, user: ApiUser, last_event_id: str
) -> None:
    order_id = await _order(api, user)
    errors_before = api.process.count(ERROR_LINE)
    async with api.client() as client:
        response = await client.get(
            f"/orders/{order_id}/events",
            headers={**user.headers, "Last-Event-ID": last_event_id},
        )

    assert response.status_code == 422, response.text
    assert api.process.count(ERROR_LINE) == errors_before


async def test_an_after_seq_outside_the_range_is_bad_user_input(api: Api, user: ApiUser) -> None:
    """GraphQL's Int stops at 2³¹−1 itself; below zero is refused by the same rule as REST's."""
    order_id = await _order(api, user)
    errors_before = api.process.count(ERROR_LINE)
    async with GraphQLSocket.open(api.base_url, token=user.headers["Authorization"][7:]) as socket:
        await socket.acknowledged()
        for operation_id, after in (("1", 2**31), ("2", -1)):
            await socket.subscribe(
                "subscription($id: UUID!, $after: Int) { orderEvents(id: $id, afterSeq: $after) { seq } }",
                {"id": order_id, "after": after},
                operation_id=operation_id,
            )
            answer = await socket.receive(within=10)
            # Refused by validation (an `error`) or by the resolver (a `next` with errors).
            errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
            assert [error["extensions"]["code"] for error in errors] == ["BAD_USER_INPUT"], answer
    assert api.process.count(ERROR_LINE) == errors_before


@pytest.mark.parametrize(
    "operation",
    ["{ me { id } }", 'mutation { token(email: "a@example.com", password: "x") { accessToken } }'],
)
async def test_a_query_over_the_subscriptions_only_protocol_is_a_clear_error(
    api: Api, user: ApiUser, operation: str
) -> None:
    errors_before = api.process.count(ERROR_LINE)
    token = user.headers["Authorization"][7:]
    async with GraphQLSocket.open(api.base_url, token=token, protocol="graphql-ws") as socket:
        await socket.acknowledged()
        await socket.send({"type": "start", "id": "q", "payload": {"query": operation}})
        answer = await socket.receive(within=10)
        # The socket stays open: the next operation is answered too.
        await socket.send({"type": "start", "id": "q2", "payload": {"query": operation}})
        after = await socket.receive(within=10)

    assert answer["type"] == "error", answer
    assert answer["id"] == "q"
    assert answer["payload"]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "subscriptions only" in answer["payload"]["message"]
    assert after["type"] == "error"
    assert after["id"] == "q2"
    assert api.process.count(ERROR_LINE) == errors_before
    assert api.process.count("graphql-ws: a (query|mutation) refused") >= 1


@pytest.mark.parametrize("password", ["12345678", "password", " " * 8, "qwertyuiop"])
async def test_weak_passwords_are_refused_with_the_reason_on_both_interfaces(
    api: Api, password: str
) -> None:
    async with api.client("198.51.100.200") as client:
        rest = await client.post(
            "/register/", json={"email": "weak@example.com", "password": password}
        )
    async with api.client("198.51.100.201") as client:
        graph = await post_graphql(client, REGISTER, {"e": "weak@example.com", "p": password})

    assert rest.status_code == 422, rest.text
    assert rest.json()["errors"][0]["loc"] == ["body", "password"]
    assert "password" in rest.json()["detail"].lower()
    assert codes(graph) == ["BAD_USER_INPUT"]
    assert graph.json()["errors"][0]["extensions"]["errors"][0]["loc"] == ["password"]


async def test_a_password_made_of_the_email_is_refused(api: Api) -> None:
    async with api.client("198.51.100.202") as client:
        rest = await client.post(
            "/register/",
            json={"email": "margaret.hamilton@example.com", "password": "margaret.hamilton"},
        )
    assert rest.status_code == 422, rest.text


async def test_a_token_outliving_its_account_is_unauthenticated_on_every_write(
    api: Api, db_engine: AsyncEngine
) -> None:
    doomed = await api.user()
    order_id = await _order(api, doomed)
    errors_before = api.process.count(ERROR_LINE)
    async with db_engine.begin() as connection:
        await connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": doomed.id})

    body = order_body(("5.00", 1))
    async with api.client() as client:
        rest_create = await client.post("/orders/", json=body, headers=doomed.headers)
        rest_keyed = await client.post(
            "/orders/", json=body, headers={**doomed.headers, "Idempotency-Key": "k-1"}
        )
        rest_update = await client.patch(
            f"/orders/{order_id}/", json={"status": "PAID"}, headers=doomed.headers
        )
        graph_create = await post_graphql(
            client,
            CREATE_ORDER,
            {"input": {"items": [{"productId": "sku-0", "quantity": 1, "price": "5.00"}]}},
            headers=doomed.headers,
        )
        graph_update = await post_graphql(
            client, UPDATE_STATUS, {"id": order_id}, headers=doomed.headers
        )

    assert [rest_create.status_code, rest_keyed.status_code, rest_update.status_code] == [401] * 3
    for rest in (rest_create, rest_keyed, rest_update):
        problem(
            rest,
            401,
            "UNAUTHENTICATED",
            "ACCOUNT_GONE",
            detail="The account this token was issued to no longer exists",
        )
    assert codes(graph_create) == codes(graph_update) == ["UNAUTHENTICATED"], (
        graph_create.text,
        graph_update.text,
    )
    for graph in (graph_create, graph_update):
        assert graph.json()["errors"][0]["extensions"]["reason"] == "ACCOUNT_GONE"
    assert api.process.count(ERROR_LINE) == errors_before
