"""POST /orders/ with Idempotency-Key: a retry returns the first order and creates nothing more."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import UserFactory, order_body
from tests.support.problems import problem


async def _counts(engine: AsyncEngine) -> tuple[int, int]:
    """(orders, new_order events in the outbox)."""
    async with engine.connect() as connection:
        orders = await connection.scalar(text("SELECT count(*) FROM orders"))
        events = await connection.scalar(
            text("SELECT count(*) FROM outbox_events WHERE event_type = 'new_order'")
        )
    return int(orders or 0), int(events or 0)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_a_retry_with_the_same_key_and_body_returns_the_first_order(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    headers = {**user.headers, **_key()}

    first = await client.post("/orders/", json=order_body(), headers=headers)
    retry = await client.post("/orders/", json=order_body(), headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert await _counts(clean_db) == (1, 1)  # one order, one new_order event


async def test_the_same_request_spelled_differently_is_still_a_retry(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    headers = {**user.headers, **_key()}
    item = {"product_id": "sku-1", "quantity": 2, "price": "5.50"}

    first = await client.post("/orders/", json={"items": [item]}, headers=headers)
    retry = await client.post(
        "/orders/", json={"items": [{**item, "price": 5.5, "name": None}]}, headers=headers
    )

    assert retry.json()["id"] == first.json()["id"]


async def test_the_same_key_with_a_different_body_is_422_and_creates_nothing(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    headers = {**user.headers, **_key()}
    await client.post("/orders/", json=order_body(("1.00", 1)), headers=headers)

    reused = await client.post("/orders/", json=order_body(("2.00", 1)), headers=headers)

    body = problem(reused, 422, "BAD_USER_INPUT", "IDEMPOTENCY_KEY_REUSED")
    assert "Idempotency-Key was already used" in body["detail"]
    assert await _counts(clean_db) == (1, 1)


async def test_concurrent_requests_with_one_key_create_one_order(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    headers = {**user.headers, **_key()}

    responses = await asyncio.gather(
        *(client.post("/orders/", json=order_body(), headers=headers) for _ in range(8))
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 7
    assert await _counts(clean_db) == (1, 1)


async def test_keys_belong_to_their_user(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    alice, bob = await users.create(), await users.create()
    key = _key()

    for_alice = await client.post("/orders/", json=order_body(), headers={**alice.headers, **key})
    for_bob = await client.post("/orders/", json=order_body(), headers={**bob.headers, **key})

    assert for_alice.json()["id"] != for_bob.json()["id"]
    assert for_bob.json()["user_id"] == bob.id
    assert await _counts(clean_db) == (2, 2)


async def test_a_key_older_than_24_hours_is_free_again(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()
    headers = {**user.headers, **_key()}
    first = await client.post("/orders/", json=order_body(), headers=headers)
    async with clean_db.begin() as connection:
        await connection.execute(
            text(
                "UPDATE order_idempotency_keys"
                " SET created_at = created_at - interval '24 hours 1 second'"
            )
        )

    later = await client.post("/orders/", json=order_body(), headers=headers)

    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in later.headers
    assert await _counts(clean_db) == (2, 2)


async def test_a_replay_shows_the_order_as_it_is_now(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    headers = {**user.headers, **_key()}
    first = await client.post("/orders/", json=order_body(), headers=headers)
    await client.patch(f"/orders/{first.json()['id']}/", json={"status": "PAID"}, headers=headers)

    retry = await client.post("/orders/", json=order_body(), headers=headers)

    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["status"] == "PAID"


@pytest.mark.parametrize("key", ["", "two words", "k" * 256, "ключ", "tab\there"])
async def test_a_malformed_key_is_422(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine, key: str
) -> None:
    user = await users.create()

    response = await client.post(
        "/orders/",
        json=order_body(),
        # As bytes: httpx refuses a non-ASCII str header, a raw client does not.
        headers={
            **{name.encode(): value.encode() for name, value in user.headers.items()},
            b"Idempotency-Key": key.encode(),
        },
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await _counts(clean_db) == (0, 0)


async def test_without_a_key_every_request_creates_an_order(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    user = await users.create()

    for _ in range(2):
        await client.post("/orders/", json=order_body(), headers=user.headers)

    assert await _counts(clean_db) == (2, 2)


async def test_the_header_is_documented(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/orders/"]["post"]

    [parameter] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["in"] == "header"
    assert parameter["required"] is False
    assert parameter["schema"]["anyOf"][0]["maxLength"] == 255
    assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]


async def test_a_new_key_clears_the_users_expired_keys_and_only_theirs(
    client: httpx.AsyncClient, users: UserFactory, clean_db: AsyncEngine
) -> None:
    alice, bob = await users.create(), await users.create()
    for user in (alice, bob):
        await client.post("/orders/", json=order_body(), headers={**user.headers, **_key()})
    await client.post(
        "/orders/", json=order_body(), headers={**alice.headers, "Idempotency-Key": "fresh"}
    )
    async with clean_db.begin() as connection:
        await connection.execute(
            text(
                "UPDATE order_idempotency_keys"
                " SET created_at = created_at - interval '24 hours 1 second'"
                " WHERE idempotency_key <> 'fresh'"
            )
        )

    await client.post("/orders/", json=order_body(), headers={**alice.headers, **_key()})

    async with clean_db.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT user_id, created_at > now() - interval '1 hour' FROM order_idempotency_keys"
            )
        )
        left = sorted(tuple(row) for row in rows)
    # Alice's expired key is gone; her fresh and new keys stay; Bob's expired key is his business.
    assert left == sorted([(alice.id, True), (alice.id, True), (bob.id, False)])
