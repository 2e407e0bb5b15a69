"""`GET /orders/`: the back office's search (staff: every order; customers: their own)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ApiUser, StaffFactory, UserFactory, order_body


async def _order(
    client: httpx.AsyncClient, owner: ApiUser, price: str = "5.00", status: str | None = None
) -> str:
    created = await client.post("/orders/", json=order_body((price, 1)), headers=owner.headers)
    assert created.status_code == 201, created.text
    order_id: str = created.json()["id"]
    if status is not None:
        moved = await client.patch(
            f"/orders/{order_id}/", json={"status": status}, headers=owner.headers
        )
        assert moved.status_code == 200, moved.text
    return order_id


async def _created_at(engine: AsyncEngine, order_id: str, at: datetime) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE orders SET created_at = :at WHERE id = :id"), {"at": at, "id": order_id}
        )


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [order["id"] for order in response.json()]


def _next(response: httpx.Response) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    match = re.fullmatch(r'<http://test(.*)>; rel="next"', link)
    assert match is not None, link
    return match.group(1)


async def test_staff_search_every_order_and_customers_their_own_newest_first(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    member = await staff.create()
    first = await _order(client, alice)
    second = await _order(client, bob)
    third = await _order(client, alice)

    everything = await client.get("/orders/", headers=member.headers)
    alices = await client.get("/orders/", headers=alice.headers)
    one_user = await client.get("/orders/", params={"user_id": bob.id}, headers=member.headers)
    by_id = await client.get(f"/orders/{third}/", headers=alice.headers)

    assert _ids(everything) == [third, second, first]
    assert _ids(alices) == [third, first]
    assert _ids(one_user) == [second]
    # Each order exactly as GET /orders/{id}/ answers it.
    assert alices.json()[0] == by_id.json()


async def test_a_customer_naming_another_user_is_403_and_their_own_id_is_fine(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    await _order(client, alice)

    other = await client.get("/orders/", params={"user_id": bob.id}, headers=alice.headers)
    own = await client.get("/orders/", params={"user_id": alice.id}, headers=alice.headers)
    anonymous = await client.get("/orders/")

    assert other.status_code == 403
    assert "user_id" in other.json()["detail"]
    assert own.status_code == 200
    assert anonymous.status_code == 401


async def test_status_is_repeatable_and_count_gives_the_exact_total(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    pending = await _order(client, alice)
    paid = await _order(client, alice, status="PAID")
    canceled = await _order(client, alice, status="CANCELED")

    one = await client.get("/orders/", params={"status": "PAID"}, headers=member.headers)
    two = await client.get(
        "/orders/?status=PAID&status=CANCELED&count=true", headers=member.headers
    )
    counted = await client.get(
        "/orders/",
        params={"status": "PENDING", "count": "true", "limit": 1},
        headers=member.headers,
    )

    assert _ids(one) == [paid]
    assert "X-Total-Count" not in one.headers
    assert _ids(two) == [canceled, paid]
    assert two.headers["X-Total-Count"] == "2"
    assert _ids(counted) == [pending]
    assert counted.headers["X-Total-Count"] == "1"


async def test_created_from_is_inclusive_and_created_to_exclusive(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory, clean_db: AsyncEngine
) -> None:
    alice = await users.create()
    member = await staff.create()
    day = datetime(2026, 11, 2, tzinfo=UTC)
    before, at_start, inside, at_end = [await _order(client, alice) for _ in range(4)]
    for order_id, at in (
        (before, day - timedelta(microseconds=1)),
        (at_start, day),
        (inside, day + timedelta(hours=12)),
        (at_end, day + timedelta(days=1)),
    ):
        await _created_at(clean_db, order_id, at)

    response = await client.get(
        "/orders/",
        params={"created_from": "2026-11-02T00:00:00Z", "created_to": "2026-11-03T01:00:00+01:00"},
        headers=member.headers,
    )

    assert _ids(response) == [inside, at_start]


async def test_a_total_range_sorted_by_total(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    cheap = await _order(client, alice, "1.00")
    low = await _order(client, alice, "10.00")
    high = await _order(client, alice, "20.00")
    await _order(client, alice, "30.01")

    descending = await client.get(
        "/orders/",
        params={"min_total": "10", "max_total": "30.00", "sort": "-total_price"},
        headers=member.headers,
    )
    ascending = await client.get(
        "/orders/", params={"max_total": "20", "sort": "total_price"}, headers=member.headers
    )

    assert _ids(descending) == [high, low]
    assert _ids(ascending) == [cheap, low, high]


async def test_pages_keep_the_filters_and_show_each_order_once_while_others_are_created(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    paid = [await _order(client, alice, f"{n}.00", status="PAID") for n in range(1, 8)]
    await _order(client, alice)  # PENDING: never listed

    seen: list[str] = []
    url: str | None = "/orders/?status=PAID&limit=3&sort=-total_price"
    pages = 0
    while url is not None:
        response = await client.get(url, headers=member.headers)
        seen += _ids(response)
        pages += 1
        # Meanwhile, more orders: the newest and the dearest, which sort before the cursor.
        await _order(client, alice, "99.00", status="PAID")
        url = _next(response)
        if url is not None:
            assert "status=PAID" in url
            assert "sort=-total_price" in url
            assert "limit=3" in url

    assert pages == 3
    assert seen[:7] == list(reversed(paid))
    assert len(seen) == len(set(seen))


async def test_a_cursor_with_other_filters_or_another_sort_is_422(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    for _ in range(3):
        await _order(client, alice, status="PAID")
    first = await client.get(
        "/orders/", params={"status": "PAID", "limit": 1}, headers=member.headers
    )
    cursor = re.search(r"cursor=([^&>]+)", first.headers["Link"])
    assert cursor is not None

    other_filter = await client.get(
        "/orders/",
        params={"status": "PENDING", "limit": 1, "cursor": cursor.group(1)},
        headers=member.headers,
    )
    other_sort = await client.get(
        "/orders/",
        params={"status": "PAID", "limit": 1, "cursor": cursor.group(1), "sort": "created_at"},
        headers=member.headers,
    )
    same = await client.get(
        "/orders/",
        params={"status": "PAID", "limit": 1, "cursor": cursor.group(1)},
        headers=member.headers,
    )

    assert other_filter.status_code == other_sort.status_code == 422
    assert "cursor" in other_filter.json()["detail"]
    assert same.status_code == 200


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"status": "LOST"}, "status"),
        ({"user_id": "0"}, "user_id"),
        ({"user_id": "abc"}, "user_id"),
        ({"created_from": "2026-11-02T00:00:00"}, "created_from"),
        ({"created_to": "yesterday"}, "created_to"),
        ({"created_to": "0.5"}, "created_to"),
        ({"created_from": "1700000000"}, "created_from"),
        ({"min_total": "1e3"}, "min_total"),
        ({"max_total": "5.001"}, "max_total"),
        ({"min_total": "-1"}, "min_total"),
        ({"sort": "status"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "x" * 201}, "cursor"),
        ({"count": "maybe"}, "count"),
        ({"min_total": "10", "max_total": "5"}, "max_total"),
        (
            {"created_from": "2026-11-02T00:00:00Z", "created_to": "2026-11-01T00:00:00Z"},
            "created_to",
        ),
    ],
)
async def test_bad_values_are_422_naming_the_parameter(
    client: httpx.AsyncClient, users: UserFactory, params: dict[str, str], parameter: str
) -> None:
    alice = await users.create()

    response = await client.get("/orders/", params=params, headers=alice.headers)

    assert response.status_code == 422, response.text
    assert parameter in response.json()["detail"]
