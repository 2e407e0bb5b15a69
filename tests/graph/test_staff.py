"""Roles over GraphQL: `User.role`, `token(scope:)`, staff reading any user's orders, the IsStaff check."""

from __future__ import annotations

import httpx
import jwt
import strawberry
from strawberry.types import ExecutionResult

from domain.users.errors import InvalidToken, StaffOnly
from edge.resources import Resources
from graph.context import GraphContext
from graph.permissions import IsStaff
from tests.conftest import StaffFactory, UserFactory
from tests.graph.conftest import CREATE_ORDER, graphql, order_input
from tests.support.staff import login

TOKEN = """
mutation Token($email: String!, $password: String!, $scope: String) {
  token(email: $email, password: $password, scope: $scope) { accessToken scope }
}
"""


async def test_me_has_a_role(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    customer = await users.create()
    member = await staff.create()

    as_customer = await graphql(client, "{ me { id role } }", headers=customer.headers)
    as_staff = await graphql(client, "{ me { id role } }", headers=member.headers)

    assert as_customer.ok()["me"] == {"id": customer.id, "role": "CUSTOMER"}
    assert as_staff.ok()["me"] == {"id": member.id, "role": "STAFF"}


async def test_token_takes_a_scope_and_refuses_one_the_account_lacks(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    customer = await users.create()
    member = await staff.create()

    narrowed = await graphql(
        client, TOKEN, {"email": member.email, "password": member.password, "scope": "orders"}
    )
    full = await graphql(client, TOKEN, {"email": member.email, "password": member.password})
    refused = await graphql(
        client,
        TOKEN,
        {"email": customer.email, "password": customer.password, "scope": "orders:manage"},
    )

    narrowed_token = narrowed.ok()["token"]
    claims = jwt.decode(narrowed_token["accessToken"], options={"verify_signature": False})
    assert (narrowed_token["scope"], claims["scope"]) == ("orders", "orders")
    assert full.ok()["token"]["scope"] == "orders orders:manage"
    assert refused.codes == ["BAD_USER_INPUT"]
    assert "orders:manage" in refused.errors[0]["message"]


async def test_staff_list_any_users_orders_customers_only_their_own(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    mallory = await users.create()
    member = await staff.create()
    created = await graphql(client, CREATE_ORDER, {"input": order_input()}, headers=alice.headers)
    query = "query List($userId: Int!) { orders(userId: $userId) { id } }"

    by_staff = await graphql(client, query, {"userId": alice.id}, headers=member.headers)
    by_other = await graphql(client, query, {"userId": alice.id}, headers=mallory.headers)

    assert by_staff.ok()["orders"] == [{"id": created.ok()["createOrder"]["id"]}]
    assert by_other.codes == ["FORBIDDEN"]


def _open() -> str:
    return "open"


@strawberry.type
class _Query:
    back_office: str = strawberry.field(resolver=_open, permission_classes=[IsStaff])


async def test_the_is_staff_permission_admits_staff_and_refuses_everyone_else(
    app_state: Resources, client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    """`IsStaff` on a field of another schema (as webhooks use it)."""
    customer = await users.create()
    member = await staff.create()
    narrowed = await login(client, member.email, member.password, scope="orders")
    schema = strawberry.Schema(query=_Query)

    async def back_office(headers: dict[str, str] | None) -> ExecutionResult:
        token = headers["Authorization"].removeprefix("Bearer ") if headers else None
        context = GraphContext(
            resources=app_state,
            token=app_state.tokens.verify_token(token) if token else None,
            auth_failure=None,
            client_ip="test",
        )
        return await schema.execute("{ backOffice }", context_value=context)

    admitted = await back_office(member.headers)
    refused = [await back_office(customer.headers), await back_office(narrowed)]
    anonymous = await back_office(None)

    assert admitted.errors is None
    assert admitted.data == {"backOffice": "open"}
    for result in refused:
        assert result.errors is not None
        assert isinstance(result.errors[0].original_error, StaffOnly)
    assert anonymous.errors is not None
    assert isinstance(anonymous.errors[0].original_error, InvalidToken)
