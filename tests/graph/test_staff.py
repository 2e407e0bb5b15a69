"""Roles over GraphQL: `User.role`, `token(scope:)`, staff reading any user's orders, the IsStaff check."""

from __future__ import annotations

import httpx
import jwt
import pytest
import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.types import ExecutionResult

from api.settings import ApiProcessSettings
from domain.orders.permissions import CustomerStatusChanges
from domain.users.errors import InvalidToken, StaffOnly
from edge.resources import Resources
from edge.settings import OrderRulesSettings
from graph.context import GraphContext
from graph.permissions import IsStaff
from tests.conftest import StaffFactory, UserFactory
from tests.graph.conftest import CREATE_ORDER, graphql, order_input
from tests.support.app import running_app
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
    # The code and reason REST answers the same refusal with (400 BAD_USER_INPUT, INVALID_SCOPE).
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["reason"] == "INVALID_SCOPE"
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


UPDATE = """
mutation Move($id: UUID!, $status: OrderStatus!, $note: String) {
  updateOrderStatus(id: $id, status: $status, note: $note) { id status userId }
}
"""

HISTORY = """
query History($id: UUID!) {
  order(id: $id) { id history { seq kind actorRole note actor { id role } } }
}
"""


async def _created(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await graphql(client, CREATE_ORDER, {"input": order_input()}, headers=headers)
    order_id: str = created.ok()["createOrder"]["id"]
    return order_id


async def test_staff_read_and_move_any_order_with_a_note_and_the_owner_sees_not_who(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice, mallory = await users.create(), await users.create()
    member = await staff.create()
    order_id = await _created(client, alice.headers)

    moved = await graphql(
        client,
        UPDATE,
        {"id": order_id, "status": "PAID", "note": " paid by bank transfer "},
        headers=member.headers,
    )
    by_staff = await graphql(client, HISTORY, {"id": order_id}, headers=member.headers)
    by_owner = await graphql(client, HISTORY, {"id": order_id}, headers=alice.headers)
    by_stranger = await graphql(client, HISTORY, {"id": order_id}, headers=mallory.headers)

    assert moved.ok()["updateOrderStatus"] == {"id": order_id, "status": "PAID", "userId": alice.id}
    assert by_staff.ok()["order"]["history"] == [
        {
            "seq": 1,
            "kind": "CREATED",
            "actorRole": "CUSTOMER",
            "note": None,
            "actor": {"id": alice.id, "role": "CUSTOMER"},
        },
        {
            "seq": 2,
            "kind": "STATUS_CHANGED",
            "actorRole": "STAFF",
            "note": "paid by bank transfer",
            "actor": {"id": member.id, "role": "STAFF"},
        },
    ]
    owner_view = by_owner.ok()["order"]["history"][1]
    assert (owner_view["actorRole"], owner_view["note"], owner_view["actor"]) == (
        "STAFF",
        "paid by bank transfer",
        None,
    )
    assert by_stranger.codes == ["NOT_FOUND"]


async def test_a_customer_cannot_move_another_users_order(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, mallory = await users.create(), await users.create()
    order_id = await _created(client, alice.headers)

    moved = await graphql(
        client, UPDATE, {"id": order_id, "status": "CANCELED"}, headers=mallory.headers
    )

    assert moved.codes == ["NOT_FOUND"]


@pytest.mark.parametrize("note", ["", "   ", "x" * 501])
async def test_an_empty_or_too_long_note_is_bad_user_input(
    client: httpx.AsyncClient, users: UserFactory, note: str
) -> None:
    alice = await users.create()
    order_id = await _created(client, alice.headers)

    moved = await graphql(
        client, UPDATE, {"id": order_id, "status": "PAID", "note": note}, headers=alice.headers
    )
    after = await graphql(
        client,
        "query($id: UUID!) { order(id: $id) { status } }",
        {"id": order_id},
        headers=alice.headers,
    )

    assert moved.codes == ["BAD_USER_INPUT"]
    assert after.ok()["order"]["status"] == "PENDING"


async def test_with_cancel_only_a_customer_may_only_cancel(
    settings: ApiProcessSettings, clean_db: AsyncEngine, database_url: str
) -> None:
    rules = OrderRulesSettings(customer_status_changes=CustomerStatusChanges.CANCEL)
    async with running_app(settings.model_copy(update={"order_rules": rules})) as (client, _):
        alice = await UserFactory(client).create()
        member = await StaffFactory(client, UserFactory(client), database_url).create()
        order_id = await _created(client, alice.headers)

        pay = await graphql(
            client, UPDATE, {"id": order_id, "status": "PAID"}, headers=alice.headers
        )
        staff_pays = await graphql(
            client, UPDATE, {"id": order_id, "status": "PAID"}, headers=member.headers
        )
        no_role_may = await graphql(
            client, UPDATE, {"id": order_id, "status": "PENDING"}, headers=alice.headers
        )

    assert pay.codes == ["FORBIDDEN"]
    assert staff_pays.ok()["updateOrderStatus"]["status"] == "PAID"
    assert no_role_may.codes == ["CONFLICT"]
