"""Staff and customers on orders over REST: reads, moves, CUSTOMER_STATUS_CHANGES, notes, who did what."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import ApiProcessSettings
from domain.orders.permissions import CustomerStatusChanges
from edge.settings import OrderRulesSettings
from tests.conftest import ApiUser, StaffFactory, UserFactory, order_body
from tests.support.app import running_app
from tests.support.staff import login


async def _order(client: httpx.AsyncClient, owner: ApiUser) -> str:
    created = await client.post("/orders/", json=order_body(), headers=owner.headers)
    assert created.status_code == 201, created.text
    order_id: str = created.json()["id"]
    return order_id


async def _move(
    client: httpx.AsyncClient, who: ApiUser, order_id: str, status: str, note: str | None = None
) -> httpx.Response:
    body: dict[str, str] = {"status": status}
    if note is not None:
        body["note"] = note
    return await client.patch(f"/orders/{order_id}/", json=body, headers=who.headers)


async def test_staff_read_any_order_its_history_and_from_the_cache(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice, mallory = await users.create(), await users.create()
    member = await staff.create()
    order_id = await _order(client, alice)
    as_owner = await client.get(f"/orders/{order_id}/", headers=alice.headers)

    as_staff = await client.get(f"/orders/{order_id}/", headers=member.headers)
    history = await client.get(f"/orders/{order_id}/history/", headers=member.headers)
    as_stranger = await client.get(f"/orders/{order_id}/", headers=mallory.headers)

    assert as_staff.status_code == 200
    assert as_staff.content == as_owner.content
    assert as_staff.headers["X-Cache"] == "HIT"
    assert history.status_code == 200
    assert [event["kind"] for event in history.json()] == ["CREATED"]
    assert as_stranger.status_code == 404


async def test_a_staff_read_of_an_uncached_order_caches_it_under_its_owner(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    order_id = await _order(client, alice)
    await _move(client, member, order_id, "PAID")  # leaves the cache refreshed after the commit

    first = await client.get(f"/orders/{order_id}/", headers=member.headers)
    by_owner = await client.get(f"/orders/{order_id}/", headers=alice.headers)

    assert first.status_code == by_owner.status_code == 200
    assert by_owner.json()["status"] == "PAID"
    assert by_owner.headers["X-Cache"] == "HIT"


async def test_a_staff_token_without_orders_manage_acts_as_a_customer(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    narrowed = await login(client, member.email, member.password, scope="orders")
    order_id = await _order(client, alice)

    read = await client.get(f"/orders/{order_id}/", headers=narrowed)
    moved = await client.patch(f"/orders/{order_id}/", json={"status": "PAID"}, headers=narrowed)

    assert read.status_code == moved.status_code == 404


async def test_staff_make_any_allowed_move_and_a_move_no_role_may_make_stays_409(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    order_id = await _order(client, alice)

    paid = await _move(client, member, order_id, "PAID")
    shipped = await _move(client, member, order_id, "SHIPPED")
    back = await _move(client, member, order_id, "PAID")

    assert (paid.status_code, shipped.status_code) == (200, 200)
    assert shipped.json()["status"] == "SHIPPED"
    assert shipped.json()["user_id"] == alice.id
    assert back.status_code == 409


async def test_a_customer_cannot_move_another_users_order(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, mallory = await users.create(), await users.create()
    order_id = await _order(client, alice)

    response = await _move(client, mallory, order_id, "CANCELED")

    assert response.status_code == 404


@pytest.fixture
async def cancel_only(
    settings: ApiProcessSettings, clean_db: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with CUSTOMER_STATUS_CHANGES=cancel."""
    rules = OrderRulesSettings(customer_status_changes=CustomerStatusChanges.CANCEL)
    async with running_app(settings.model_copy(update={"order_rules": rules})) as (client, _):
        yield client


async def test_with_cancel_only_a_customer_may_cancel_a_pending_order_and_nothing_else(
    cancel_only: httpx.AsyncClient, database_url: str
) -> None:
    client = cancel_only
    alice = await UserFactory(client).create()
    member = await StaffFactory(client, UserFactory(client), database_url).create()
    to_pay, to_cancel = await _order(client, alice), await _order(client, alice)

    pay = await _move(client, alice, to_pay, "PAID")
    unchanged = await client.get(f"/orders/{to_pay}/", headers=alice.headers)
    cancel = await _move(client, alice, to_cancel, "CANCELED")
    staff_pays = await _move(client, member, to_pay, "PAID")
    cancel_paid = await _move(client, alice, to_pay, "CANCELED")
    staff_ships = await _move(client, member, to_pay, "SHIPPED")
    no_role_may = await _move(client, alice, to_pay, "PAID")

    assert pay.status_code == 403
    assert "Only staff" in pay.json()["detail"]
    assert (unchanged.json()["status"], unchanged.headers["ETag"]) == ("PENDING", '"1"')
    assert cancel.status_code == 200
    assert staff_pays.status_code == 200
    assert cancel_paid.status_code == 403
    assert staff_ships.status_code == 200
    assert no_role_may.status_code == 409


async def test_a_note_is_trimmed_and_recorded_with_who_moved_the_order(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    order_id = await _order(client, alice)

    paid = await _move(client, member, order_id, "PAID", note="  paid by bank transfer \n")
    canceled = await _move(client, alice, order_id, "CANCELED", note="changed my mind")
    by_staff = (await client.get(f"/orders/{order_id}/history/", headers=member.headers)).json()
    by_owner = (await client.get(f"/orders/{order_id}/history/", headers=alice.headers)).json()

    assert paid.status_code == canceled.status_code == 200
    assert [(e["actor"], e["note"]) for e in by_staff] == [
        ({"user_id": alice.id, "role": "customer"}, None),
        ({"user_id": member.id, "role": "staff"}, "paid by bank transfer"),
        ({"user_id": alice.id, "role": "customer"}, "changed my mind"),
    ]
    # The owner sees that staff acted, and why, but not who.
    assert [(e["actor"], e["note"]) for e in by_owner] == [
        ({"user_id": alice.id, "role": "customer"}, None),
        ({"role": "staff"}, "paid by bank transfer"),
        ({"user_id": alice.id, "role": "customer"}, "changed my mind"),
    ]


@pytest.mark.parametrize("note", ["", "   ", "x" * 501, 5])
async def test_an_empty_or_too_long_note_is_422_and_changes_nothing(
    client: httpx.AsyncClient, users: UserFactory, note: object
) -> None:
    alice = await users.create()
    order_id = await _order(client, alice)

    response = await client.patch(
        f"/orders/{order_id}/", json={"status": "PAID", "note": note}, headers=alice.headers
    )
    after = await client.get(f"/orders/{order_id}/", headers=alice.headers)

    assert response.status_code == 422
    assert "note" in response.json()["detail"]
    assert after.json()["status"] == "PENDING"


async def test_a_note_of_500_characters_after_trimming_is_accepted(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice = await users.create()
    order_id = await _order(client, alice)

    response = await _move(client, alice, order_id, "PAID", note=" " + "é" * 500 + " ")

    assert response.status_code == 200
