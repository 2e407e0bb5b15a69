"""A frontend's view: the `gql` client library against a real API process over real HTTP.

The client fetches the schema by introspection and validates every document against it before sending,
as code generators and typed clients do.
"""

from __future__ import annotations

import uuid
from typing import Any

import graphql
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

REGISTER = """
mutation Register($email: String!, $password: String!) {
  register(email: $email, password: $password) { id email }
}
"""
TOKEN = """
mutation Login($email: String!, $password: String!) {
  token(email: $email, password: $password) { accessToken tokenType }
}
"""
CREATE_ORDER = """
mutation Create($input: CreateOrderInput!) {
  createOrder(input: $input) { id status totalPrice items { productId quantity price } }
}
"""
ORDER = "query Order($id: UUID!) { order(id: $id) { id status totalPrice owner { email } } }"
ORDERS = "query Orders($userId: Int!) { orders(userId: $userId) { id status } }"
MOVE = """
mutation Move($id: UUID!, $status: OrderStatus!) {
  updateOrderStatus(id: $id, status: $status) { id status }
}
"""


def _client(base_url: str, token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = HTTPXAsyncTransport(url=f"{base_url}/graphql", headers=headers, timeout=15)
    return Client(transport=transport, fetch_schema_from_transport=True)


def _request(document: str, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables)


async def test_a_frontend_client_runs_every_operation(live_server: str) -> None:
    email = f"frontend-{uuid.uuid4().hex[:8]}@example.com"
    async with _client(live_server) as anonymous:
        user = (
            await anonymous.execute(_request(REGISTER, email=email, password="s3cret-password"))
        )["register"]
        token = (await anonymous.execute(_request(TOKEN, email=email, password="s3cret-password")))[
            "token"
        ]

    async with _client(live_server, token["accessToken"]) as session:
        me = await session.execute(GraphQLRequest("{ me { id email } }"))
        items = [{"productId": "sku-1", "name": "Mug", "quantity": 2, "price": "5.50"}]
        created = (await session.execute(_request(CREATE_ORDER, input={"items": items})))[
            "createOrder"
        ]
        read = (await session.execute(_request(ORDER, id=created["id"])))["order"]
        moved = (await session.execute(_request(MOVE, id=created["id"], status="PAID")))[
            "updateOrderStatus"
        ]
        listed = (await session.execute(_request(ORDERS, userId=user["id"])))["orders"]

    assert token["tokenType"] == "bearer"
    assert me == {"me": user}
    assert created["status"] == "PENDING"
    assert created["totalPrice"] == "11.00"
    assert read == {
        "id": created["id"],
        "status": "PENDING",
        "totalPrice": "11.00",
        "owner": {"email": email},
    }
    assert moved == {"id": created["id"], "status": "PAID"}
    assert listed == [moved]


async def test_the_client_gets_errors_with_codes_it_can_branch_on(live_server: str) -> None:
    async with _client(live_server) as anonymous:
        with pytest.raises(TransportQueryError) as unauthenticated:
            await anonymous.execute(GraphQLRequest("{ me { id } }"))
        with pytest.raises(TransportQueryError) as bad_input:
            await anonymous.execute(_request(REGISTER, email="nope", password="s3cret-password"))

    assert unauthenticated.value.errors is not None
    assert unauthenticated.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert bad_input.value.errors is not None
    assert bad_input.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad_input.value.errors[0]["extensions"]["errors"][0]["loc"] == ["email"]


async def test_the_client_refuses_a_document_the_schema_does_not_allow(live_server: str) -> None:
    async with _client(live_server) as session:
        with pytest.raises(graphql.GraphQLError, match="Cannot query field 'nope'"):
            await session.execute(GraphQLRequest("{ me { nope } }"))
