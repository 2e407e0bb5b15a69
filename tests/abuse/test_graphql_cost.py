"""GraphQL: one request cannot do (or cost) more than the same work over REST.

Attacks: 15 aliased full pages in one query; 15 aliased `createOrder` in one mutation; one request's
sibling fields emptying the connection pool."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import ApiProcessSettings
from graph.settings import GraphQLSettings
from tests.abuse.conftest import StartApi, codes, post_graphql
from tests.conftest import UserFactory
from tests.support.app import running_app

FULL_PAGE = "orders(userId: $me, limit: 100) { items { productId name quantity price } }"
# 1 + 100 × (items: 1 + 50 × 4 fields)
FULL_PAGE_COST = 1 + 100 * (1 + 50 * 4)
DEFAULT_PAGE = "orders(userId: $me) { items { productId name quantity price } }"


def aliased(count: int, field: str) -> str:
    return " ".join(f"f{n}: {field}" for n in range(count))


async def test_fifteen_aliased_full_pages_are_refused_unrun_with_their_cost(
    start_api: StartApi,
) -> None:
    api = await start_api()
    user = await api.user()
    query = f"query($me: Int!) {{ {aliased(15, FULL_PAGE)} }}"

    async with api.client() as client:
        refused = await post_graphql(client, query, {"me": user.id}, user.headers)
        one_page = await post_graphql(
            client, f"query($me: Int!) {{ {DEFAULT_PAGE} }}", {"me": user.id}, user.headers
        )

    body = refused.json()
    assert refused.status_code == 200
    assert body["data"] is None
    assert codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"]["cost"] == 15 * FULL_PAGE_COST
    assert body["errors"][0]["extensions"]["maxCost"] == GraphQLSettings().max_cost
    assert body["extensions"] == {"cost": 15 * FULL_PAGE_COST}
    # Refused before running: it spent only the unit every request spends before it is read.
    assert refused.headers["X-RateLimit-Remaining"] == "99"
    # A default page (50 orders) of the same fields is within the default maximum.
    assert one_page.json() == {"data": {"orders": []}, "extensions": {"cost": 1 + 50 * 201}}


async def test_every_answer_reports_its_cost(start_api: StartApi) -> None:
    api = await start_api()
    user = await api.user()
    listing = "query($me: Int!) { orders(userId: $me, limit: 10) { id items { price } } }"

    async with api.client() as client:
        listed = await post_graphql(client, listing, {"me": user.id}, user.headers)
        paged = await post_graphql(
            client,
            "query($me: Int!) { ordersPage(userId: $me, limit: 10) { nextCursor items { id } } }",
            {"me": user.id},
            user.headers,
        )
        typename = await post_graphql(client, "{ __typename }")
        broken = await post_graphql(client, "{ me { id ")

    # orders: 1 + 10 × (id 1 + items (1 + 50 × price 1)); a page hands its limit to its items.
    assert listed.json()["extensions"] == {"cost": 1 + 10 * (1 + 1 + 50)}
    assert paged.json()["extensions"] == {"cost": 1 + 1 + (1 + 10 * 1)}
    assert typename.json()["extensions"] == {"cost": 0}
    assert codes(broken) == ["GRAPHQL_PARSE_FAILED"]
    assert broken.json()["extensions"] == {"cost": 0}


def _create_orders(count: int) -> str:
    fields = aliased(count, "createOrder(input: $input) { id }")
    return f"mutation($input: CreateOrderInput!) {{ {fields} }}"


_ITEMS: dict[str, Any] = {
    "items": [{"productId": f"sku-{n}", "quantity": 1, "price": "1.00"} for n in range(100)]
}


async def _order_count(db_engine: AsyncEngine, user_id: int) -> int:
    async with db_engine.connect() as connection:
        result = await connection.execute(
            text("SELECT count(*) FROM orders WHERE user_id = :id"), {"id": user_id}
        )
        return int(result.scalar_one())


async def test_aliased_mutations_each_spend_a_unit_and_past_the_budget_none_runs(
    start_api: StartApi, db_engine: AsyncEngine
) -> None:
    api = await start_api(RATE_LIMIT_DEFAULT="10/minute")
    user = await api.user()

    async with api.client() as client:
        fifteen = await post_graphql(client, _create_orders(15), {"input": _ITEMS}, user.headers)
        after_refusal = await _order_count(db_engine, user.id)
        five = await post_graphql(client, _create_orders(5), {"input": _ITEMS}, user.headers)

    assert codes(fifteen) == ["RATE_LIMITED"]
    assert fifteen.json()["data"] is None
    assert after_refusal == 0
    # 15 orders would cost 15 REST requests: refused whole, its 14 extra units given back.
    assert codes(five) == []
    assert len(five.json()["data"]) == 5
    assert await _order_count(db_engine, user.id) == 5
    assert five.headers["X-RateLimit-Remaining"] == str(10 - 1 - 5)


async def test_one_request_holds_at_most_two_connections_and_never_starves_itself(
    settings: ApiProcessSettings, clean_db: AsyncEngine
) -> None:
    """Over ASGI: the pool is observed from inside the process (how many connections are out)."""
    roomy = settings.model_copy(update={"graphql": GraphQLSettings(max_cost=10**9)})
    async with running_app(roomy) as (client, resources):
        user = await UserFactory(client).create()
        for _ in range(3):
            created = await client.post(
                "/orders/",
                json={"items": [{"product_id": "a", "quantity": 1, "price": "2.00"}]},
                headers=user.headers,
            )
            assert created.status_code == 201
        pool = resources.engine.sync_engine.pool
        most_out = 0

        def on_checkout(*_: object) -> None:
            nonlocal most_out
            most_out = max(most_out, pool.checkedout())  # type: ignore[attr-defined]

        event.listen(pool, "checkout", on_checkout)
        try:
            query = f"query($me: Int!) {{ {aliased(15, FULL_PAGE)} }}"
            responses = await asyncio.gather(
                *(post_graphql(client, query, {"me": user.id}, user.headers) for _ in range(2))
            )
        finally:
            event.remove(pool, "checkout", on_checkout)

    for response in responses:
        assert codes(response) == []
        assert all(len(page) == 3 for page in response.json()["data"].values())
    # Two requests of 15 sibling fields each, at most two connections each.
    assert 1 <= most_out <= 4


async def test_aliased_fields_are_served_while_another_user_reads(start_api: StartApi) -> None:
    """A real process with a pool of 4: a request of 15 sibling list fields takes 2 connections at
    most, so another user's reads keep being answered, and it never fails on its own fields."""
    api = await start_api(
        GRAPHQL_MAX_COST=str(10**9), DATABASE_POOL_SIZE="4", RATE_LIMIT_DEFAULT="1000/minute"
    )
    heavy, reader = await api.user(), await api.user()
    async with api.client() as client:
        created = await client.post(
            "/orders/",
            json={"items": [{"product_id": "a", "quantity": 1, "price": "2.00"}]},
            headers=reader.headers,
        )
        order_url = f"/orders/{created.json()['id']}/"
        query = f"query($me: Int!) {{ {aliased(15, FULL_PAGE)} }}"

        async def heavy_loop() -> list[httpx.Response]:
            return [
                await post_graphql(client, query, {"me": heavy.id}, heavy.headers) for _ in range(5)
            ]

        async def reads() -> list[int]:
            return [
                (await client.get(order_url, headers=reader.headers)).status_code for _ in range(20)
            ]

        heavies, statuses = await asyncio.gather(
            asyncio.gather(*(heavy_loop() for _ in range(2))), reads()
        )

    assert set(statuses) == {200}
    assert [codes(response) for loop in heavies for response in loop] == [[]] * 10
