from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest

from domain.orders.status import OrderStatus
from tests.conftest import ApiUser, UserFactory, order_body
from tests.support.problems import problem, same_problem


async def _create(
    client: httpx.AsyncClient, user: ApiUser, body: dict[str, object] | None = None
) -> dict[str, object]:
    response = await client.post("/orders/", json=body or order_body(), headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_created_order_is_pending_with_a_server_computed_total(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    response = await client.post(
        "/orders/", json=order_body(("5.50", 2), ("6", 1)), headers=user.headers
    )

    assert response.status_code == 201
    order = response.json()
    assert order["total_price"] == "17.00"
    assert order["status"] == "PENDING"
    assert order["user_id"] == user.id
    assert order["items"][1] == {
        "product_id": "sku-1",
        "name": "Item 1",
        "quantity": 1,
        "price": "6.00",
    }
    assert response.headers["Location"] == f"/orders/{order['id']}/"
    assert set(order) == {
        "id",
        "user_id",
        "items",
        "total_price",
        "status",
        "created_at",
        "updated_at",
    }


async def test_a_matching_client_total_is_accepted_and_a_wrong_one_is_422(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    body = order_body(("5.50", 2))

    matching = await client.post(
        "/orders/", json={**body, "total_price": "11.00"}, headers=user.headers
    )
    wrong = await client.post(
        "/orders/", json={**body, "total_price": "1.00"}, headers=user.headers
    )

    assert matching.status_code == 201
    assert "does not match" in problem(wrong, 422, "BAD_USER_INPUT", "VALIDATION_FAILED")["detail"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"items": []}, "items"),
        (order_body(("1.00", 0)), "quantity"),
        (order_body(("1.001", 1)), "price"),
        (order_body(("-1.00", 1)), "price"),
        (order_body(("NaN", 1)), "price"),
        (order_body(("99999999.99", 2)), "exceeds"),
        ({"items": [{"product_id": "x", "quantity": 1, "price": "1.00"}] * 101}, "items"),
        ({"items": [{"product_id": "a\u0000b", "quantity": 1, "price": "1.00"}]}, "NUL"),
        ({**order_body(), "status": "PAID"}, "status"),
        ({**order_body(), "user_id": 99}, "user_id"),
        ({**order_body(), "id": str(uuid.uuid4())}, "id"),
    ],
    ids=[
        "no-items",
        "zero-quantity",
        "three-decimals",
        "negative-price",
        "nan-price",
        "total-overflows",
        "too-many-items",
        "nul-byte",
        "client-status",
        "client-user-id",
        "client-id",
    ],
)
async def test_invalid_orders_are_422(
    client: httpx.AsyncClient, users: UserFactory, body: dict[str, object], fragment: str
) -> None:
    user = await users.create()

    response = await client.post("/orders/", json=body, headers=user.headers)

    assert fragment in problem(response, 422, "BAD_USER_INPUT", "VALIDATION_FAILED")["detail"]


async def test_owner_reads_their_order(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()
    order = await _create(client, user)

    response = await client.get(f"/orders/{order['id']}/", headers=user.headers)

    assert response.status_code == 200
    assert response.json() == order


async def test_another_users_order_looks_exactly_like_a_missing_one(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    order = await _create(client, alice)

    foreign = await client.get(f"/orders/{order['id']}/", headers=bob.headers)
    missing = await client.get(f"/orders/{uuid.uuid4()}/", headers=bob.headers)

    assert foreign.status_code == missing.status_code == 404
    assert same_problem(foreign) == same_problem(missing)


async def test_malformed_order_id_is_422(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()

    response = await client.get("/orders/not-a-uuid/", headers=user.headers)

    assert response.status_code == 422


_TRANSITIONS = [(current, target) for current in OrderStatus for target in OrderStatus]


async def _order_in(client: httpx.AsyncClient, user: ApiUser, status: OrderStatus) -> str:
    order_id = str((await _create(client, user))["id"])
    path = {
        OrderStatus.PENDING: [],
        OrderStatus.PAID: [OrderStatus.PAID],
        OrderStatus.SHIPPED: [OrderStatus.PAID, OrderStatus.SHIPPED],
        OrderStatus.CANCELED: [OrderStatus.CANCELED],
    }[status]
    for step in path:
        moved = await client.patch(
            f"/orders/{order_id}/", json={"status": step}, headers=user.headers
        )
        assert moved.status_code == 200, moved.text
    return order_id


@pytest.mark.parametrize(
    ("current", "target"), _TRANSITIONS, ids=[f"{c}->{t}" for c, t in _TRANSITIONS]
)
async def test_status_rules(
    client: httpx.AsyncClient, users: UserFactory, current: OrderStatus, target: OrderStatus
) -> None:
    user = await users.create()
    order_id = await _order_in(client, user, current)
    allowed = {
        (OrderStatus.PENDING, OrderStatus.PAID),
        (OrderStatus.PENDING, OrderStatus.CANCELED),
        (OrderStatus.PAID, OrderStatus.SHIPPED),
        (OrderStatus.PAID, OrderStatus.CANCELED),
    }

    response = await client.patch(
        f"/orders/{order_id}/", json={"status": target}, headers=user.headers
    )

    if (current, target) in allowed:
        assert response.status_code == 200
        assert response.json()["status"] == target
        assert response.json()["updated_at"] > response.json()["created_at"]
    else:
        detail = problem(response, 409, "CONFLICT", "INVALID_TRANSITION")["detail"]
        assert current in detail
        assert target in detail


async def test_unknown_status_is_422(client: httpx.AsyncClient, users: UserFactory) -> None:
    user = await users.create()
    order = await _create(client, user)

    response = await client.patch(
        f"/orders/{order['id']}/", json={"status": "LOST"}, headers=user.headers
    )

    assert response.status_code == 422


async def test_nobody_else_can_change_an_order(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    order = await _create(client, alice)

    response = await client.patch(
        f"/orders/{order['id']}/", json={"status": "CANCELED"}, headers=bob.headers
    )
    after = await client.get(f"/orders/{order['id']}/", headers=alice.headers)

    assert response.status_code == 404
    assert after.json()["status"] == "PENDING"


async def test_concurrent_status_changes_cannot_both_win(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    order_id = await _order_in(client, user, OrderStatus.PAID)

    shipped, canceled = await asyncio.gather(
        client.patch(f"/orders/{order_id}/", json={"status": "SHIPPED"}, headers=user.headers),
        client.patch(f"/orders/{order_id}/", json={"status": "CANCELED"}, headers=user.headers),
    )

    assert sorted([shipped.status_code, canceled.status_code]) == [200, 409]
    final = (await client.get(f"/orders/{order_id}/", headers=user.headers)).json()["status"]
    winner = "SHIPPED" if shipped.status_code == 200 else "CANCELED"
    assert final == winner


def _next_link(response: httpx.Response) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


async def test_listing_pages_through_every_order_newest_first(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user, other = await users.create(), await users.create()
    created = [str((await _create(client, user))["id"]) for _ in range(23)]
    await _create(client, other)

    seen: list[dict[str, object]] = []
    url: str | None = f"/orders/user/{user.id}/?limit=10"
    pages = 0
    while url is not None:
        response = await client.get(url, headers=user.headers)
        assert response.status_code == 200
        seen.extend(response.json())
        url = _next_link(response)
        pages += 1

    assert pages == 3
    assert [order["id"] for order in seen] == list(reversed(created))
    assert all(order["user_id"] == user.id for order in seen)


async def test_listing_defaults_to_50_and_has_no_link_on_the_last_page(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    for _ in range(3):
        await _create(client, user)

    response = await client.get(f"/orders/user/{user.id}/", headers=user.headers)

    assert len(response.json()) == 3
    assert "Link" not in response.headers


async def test_listing_another_users_orders_is_403(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, bob = await users.create(), await users.create()
    await _create(client, alice)

    response = await client.get(f"/orders/user/{alice.id}/", headers=bob.headers)

    assert response.status_code == 403


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "cursor=garbage", "cursor=MjAyNHxub3BlCg"]
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, users: UserFactory, query: str
) -> None:
    user = await users.create()

    response = await client.get(f"/orders/user/{user.id}/?{query}", headers=user.headers)

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/orders"),
        ("GET", "/orders/{id}"),
        ("PATCH", "/orders/{id}"),
        ("GET", "/orders/user/{user}"),
        ("POST", "/register"),
        ("POST", "/token/"),
    ],
)
async def test_routes_answer_without_redirect_either_side_of_the_slash(
    client: httpx.AsyncClient, users: UserFactory, method: str, path: str
) -> None:
    user = await users.create(email="slash@example.com")
    order = await _create(client, user)
    url = path.format(id=order["id"], user=user.id)
    bodies: dict[str, dict[str, object]] = {
        "POST /orders": {"json": order_body()},
        "PATCH /orders/{id}": {"json": {"status": "PAID"}},
        "POST /register": {"json": {"email": "other@example.com", "password": "s3cret-password"}},
        "POST /token/": {"data": {"username": user.email, "password": user.password}},
    }
    kwargs = bodies.get(f"{method} {path}", {})

    response = await client.request(method, url, headers=user.headers, **kwargs)  # type: ignore[arg-type]

    assert response.status_code in {200, 201}, response.text


async def test_cors_allows_only_configured_origins(client: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization",
    }

    allowed = await client.options(
        "/orders/", headers={"Origin": "http://localhost:3000", **preflight}
    )
    denied = await client.options(
        "/orders/", headers={"Origin": "https://evil.example", **preflight}
    )

    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in denied.headers


async def test_openapi_documents_the_spec_paths_and_their_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    assert set(spec["paths"]) >= {
        "/register/",
        "/token",
        "/orders/",
        "/orders/{order_id}/",
        "/orders/user/{user_id}/",
    }
    assert "/orders" not in spec["paths"]
    assert {"401", "404", "409", "422"} <= set(
        spec["paths"]["/orders/{order_id}/"]["patch"]["responses"]
    )
    assert "403" in spec["paths"]["/orders/user/{user_id}/"]["get"]["responses"]
    assert "409" in spec["paths"]["/register/"]["post"]["responses"]
    assert (
        spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"][
            "tokenUrl"
        ]
        == "token"
    )


async def test_request_id_is_taken_from_the_request_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/openapi.json", headers={"X-Request-ID": "abc-123"})
    made = await client.get("/openapi.json")
    hostile = await client.get("/openapi.json", headers={"X-Request-ID": "a b\x01c" * 50})

    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(made.headers["X-Request-ID"]) == 32
    assert hostile.headers["X-Request-ID"] != "a b\x01c" * 50
