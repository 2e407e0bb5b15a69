"""Abuse checks at the HTTP edge: headers, body size, injection payloads, object-level authorisation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import UserFactory, order_body
from tests.support.problems import problem, same_problem


async def test_json_answers_carry_strict_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


async def test_swagger_ui_is_served_offline_under_a_hash_pinned_csp(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")

    csp = page.headers["Content-Security-Policy"]
    assert page.status_code == 200
    assert "cdn." not in page.text
    assert "https://" not in page.text.split("<body>")[0]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/=]+'", csp)
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    for asset in re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.text):
        assert (await client.get(asset)).status_code == 200, asset
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200


async def test_oversized_bodies_are_refused_with_413(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    huge = {
        "items": [{"product_id": "x" * 60, "name": "n" * 190, "quantity": 1, "price": "1.00"}]
        * 5000
    }

    response = await client.post("/orders/", json=huge, headers=user.headers)

    problem(response, 413, "BAD_REQUEST", "BODY_TOO_LARGE", detail="Request body too large")


@pytest.mark.parametrize(
    "payload",
    [
        "'; DROP TABLE orders; --",
        '" OR 1=1 --',
        '{"$where": "1 == 1"}',
        "<script>alert(1)</script>",
        "Ünïcødé ✓ 注文 🛒",
    ],
)
async def test_injection_payloads_are_stored_and_returned_as_plain_data(
    client: httpx.AsyncClient, users: UserFactory, payload: str
) -> None:
    user = await users.create()
    body = {
        "items": [{"product_id": payload[:64], "name": payload, "quantity": 1, "price": "1.00"}]
    }

    created = await client.post("/orders/", json=body, headers=user.headers)
    read = await client.get(f"/orders/{created.json()['id']}/", headers=user.headers)
    listed = await client.get(f"/orders/user/{user.id}/", headers=user.headers)

    assert created.status_code == 201
    assert read.json()["items"][0]["name"] == payload
    assert listed.json()[0]["items"][0]["product_id"] == payload[:64]


async def test_no_route_lets_one_user_see_or_touch_anothers_orders(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    alice, mallory = await users.create(), await users.create()
    order = (await client.post("/orders/", json=order_body(), headers=alice.headers)).json()
    # Alice reads it once, so it is also in the cache: the check must hold on cache hits.
    await client.get(f"/orders/{order['id']}/", headers=alice.headers)

    attempts = {
        "read": await client.get(f"/orders/{order['id']}/", headers=mallory.headers),
        "change": await client.patch(
            f"/orders/{order['id']}/", json={"status": "CANCELED"}, headers=mallory.headers
        ),
        "list": await client.get(f"/orders/user/{alice.id}/", headers=mallory.headers),
    }

    assert {name: r.status_code for name, r in attempts.items()} == {
        "read": 404,
        "change": 404,
        "list": 403,
    }
    # Nothing of the order in the answers (their `instance` is the path the caller sent).
    assert all(order["id"] not in str(same_problem(r)) for r in attempts.values())
    assert (await client.get(f"/orders/{order['id']}/", headers=alice.headers)).json()[
        "status"
    ] == "PENDING"


async def test_a_streamed_body_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 65536

    response = await client.post(
        "/orders/", content=chunks(), headers={**user.headers, "Content-Type": "application/json"}
    )

    problem(response, 413, "BAD_REQUEST", "BODY_TOO_LARGE", detail="Request body too large")
