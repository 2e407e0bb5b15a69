"""Roles over REST: who one is, what a token may do, and the staff-only check (revocation included)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import httpx
import jwt
from fastapi import Depends, FastAPI

from api.deps import Caller, require_staff_caller
from api.errors import install_error_handlers
from edge.resources import Resources
from tests.conftest import StaffFactory, UserFactory, order_body
from tests.support.problems import problem
from tests.support.staff import login, orders_admin

# Revoking staff takes effect within 5 s; the test polls a little longer before failing.
REVOCATION_DEADLINE_SECONDS = 8.0


def _claims(headers: dict[str, str]) -> dict[str, object]:
    token = headers["Authorization"].removeprefix("Bearer ")
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_me_says_who_one_is_and_everyone_who_registers_is_a_customer(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice = await users.create("alice@example.com")

    response = await client.get("/users/me/", headers=alice.headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "email", "role", "created_at"}
    assert (body["id"], body["email"], body["role"]) == (alice.id, "alice@example.com", "customer")


async def test_me_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/me/")

    assert response.status_code == 401


async def test_a_staff_member_is_staff_in_me(
    client: httpx.AsyncClient, staff: StaffFactory
) -> None:
    bob = await staff.create()

    response = await client.get("/users/me/", headers=bob.headers)

    assert response.json()["role"] == "staff"


async def test_tokens_carry_the_scope_of_the_role(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    customer = await users.create()
    member = await staff.create()
    answer = await client.post(
        "/token", data={"username": member.email, "password": member.password}
    )

    assert _claims(customer.headers)["scope"] == "orders"
    assert _claims(member.headers)["scope"] == "orders orders:manage"
    assert answer.json()["scope"] == "orders orders:manage"


async def test_staff_may_ask_for_less_and_then_acts_as_a_customer(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    customer = await users.create()
    member = await staff.create()
    headers = await login(client, member.email, member.password, scope="orders")

    listed = await client.get(f"/orders/user/{customer.id}/", headers=headers)

    assert _claims(headers)["scope"] == "orders"
    assert listed.status_code == 403


async def test_asking_for_a_scope_one_does_not_have_is_invalid_scope(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    customer = await users.create()

    for scope in ("orders orders:manage", "orders:manage", "admin"):
        response = await client.post(
            "/token",
            data={"username": customer.email, "password": customer.password, "scope": scope},
        )
        body = problem(response, 400, "BAD_USER_INPUT", "INVALID_SCOPE")
        assert body["error"] == "invalid_scope"
        assert "Scope not granted" in body["detail"]


async def test_a_wrong_password_with_a_scope_is_still_401(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    customer = await users.create()

    response = await client.post(
        "/token",
        data={"username": customer.email, "password": "wrong-password", "scope": "orders:manage"},
    )

    assert response.status_code == 401


async def test_staff_list_any_users_orders_customers_only_their_own(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    mallory = await users.create()
    member = await staff.create()
    created = await client.post("/orders/", json=order_body(), headers=alice.headers)

    by_staff = await client.get(f"/orders/user/{alice.id}/", headers=member.headers)
    by_other = await client.get(f"/orders/user/{alice.id}/", headers=mallory.headers)

    assert by_staff.status_code == 200
    assert [order["id"] for order in by_staff.json()] == [created.json()["id"]]
    assert by_other.status_code == 403


async def _poll_until_forbidden(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> int:
    deadline = time.monotonic() + REVOCATION_DEADLINE_SECONDS
    while True:
        response = await client.get(url, headers=headers)
        if response.status_code != 200 or time.monotonic() > deadline:
            return response.status_code
        await asyncio.sleep(0.2)


async def test_revoking_staff_stops_a_live_token_within_five_seconds(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory, database_url: str
) -> None:
    alice = await users.create()
    member = await staff.create()
    url = f"/orders/user/{alice.id}/"
    assert (await client.get(url, headers=member.headers)).status_code == 200

    status, _, _ = await orders_admin(database_url, "revoke-staff", member.email)

    assert status == 0
    assert await _poll_until_forbidden(client, url, member.headers) == 403
    # The token itself is still valid: customer operations go on.
    assert (await client.get(f"/orders/user/{member.id}/", headers=member.headers)).status_code == (
        200
    )


async def test_the_staff_only_dependency_admits_staff_and_refuses_everyone_else(
    app_state: Resources, users: UserFactory, staff: StaffFactory, client: httpx.AsyncClient
) -> None:
    """`StaffCaller` / `require_staff_caller`, on a route of another app (as webhooks use it)."""
    customer = await users.create()
    member = await staff.create()
    narrowed = await login(client, member.email, member.password, scope="orders")
    app = FastAPI()

    @app.get("/back-office")
    async def back_office(caller: Annotated[Caller, Depends(require_staff_caller)]) -> int:
        return caller.user_id

    app.state.resources = app_state
    install_error_handlers(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as back:
        admitted = await back.get("/back-office", headers=member.headers)
        refused = await back.get("/back-office", headers=customer.headers)
        narrowed_refused = await back.get("/back-office", headers=narrowed)
        anonymous = await back.get("/back-office")

    assert (admitted.status_code, admitted.json()) == (200, member.id)
    assert refused.status_code == 403
    assert "orders:manage" in refused.json()["detail"]
    assert narrowed_refused.status_code == 403
    assert anonymous.status_code == 401
