"""Input the fuzzer found (or could find) that once reached PostgreSQL or Argon2 and failed there:
NUL characters and lone surrogates, which JSON can carry (`\\u0000`, `\\ud800`). Each is a client's
mistake (4xx) or simply matches nothing (401), never a 500."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import UserFactory
from tests.support.problems import problem


@pytest.mark.parametrize(
    ("field", "value"),
    [("product_id", "sku\x00"), ("product_id", "\ud800"), ("name", "mug \udfff")],
)
async def test_order_text_postgresql_cannot_store_is_refused_with_422(
    client: httpx.AsyncClient, users: UserFactory, field: str, value: str
) -> None:
    user = await users.create()
    item = {"product_id": "sku-1", "quantity": 1, "price": "1.00", field: value}
    # json.dumps writes "\x00" as \u0000 and a lone surrogate as \ud800, as a JSON client would;
    # httpx's own encoder refuses lone surrogates.
    body = json.dumps({"items": [item]}).encode()

    response = await client.post(
        "/orders/", content=body, headers={**user.headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "items", 0, field]


@pytest.mark.parametrize("username", ["alice\x00@example.com", "nul\x00"])
async def test_a_login_with_a_nul_in_the_email_is_just_wrong_credentials(
    client: httpx.AsyncClient, username: str
) -> None:
    response = await client.post("/token", data={"username": username, "password": "whatever1"})

    body = problem(response, 401, "UNAUTHENTICATED", "INVALID_CREDENTIALS")
    assert body["detail"] == "Incorrect email or password"
    assert body["error"] == "invalid_grant"


async def test_a_password_with_a_lone_surrogate_can_register(
    client: httpx.AsyncClient,
) -> None:
    body = json.dumps({"email": "odd@example.com", "password": "\ud800 long enough"}).encode()

    registered = await client.post(
        "/register/", content=body, headers={"Content-Type": "application/json"}
    )

    assert registered.status_code == 201, registered.text


@pytest.mark.parametrize("price", ["+5", " 5", "1_000", "\uff15", "1e3", "5.", ".5", "5.001"])
async def test_a_price_string_outside_the_documented_format_is_refused(
    client: httpx.AsyncClient, users: UserFactory, price: str
) -> None:
    user = await users.create()

    response = await client.post(
        "/orders/",
        json={"items": [{"product_id": "sku-1", "quantity": 1, "price": price}]},
        headers=user.headers,
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "items", 0, "price"]


async def test_undecodable_body_is_a_documented_400(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    response = await client.post(
        "/orders/",
        content=b'{"items": "\xff"}',
        headers={**user.headers, "Content-Type": "application/json"},
    )
    documented = (await client.get("/openapi.json")).json()["paths"]["/orders/"]["post"]

    problem(
        response, 400, "BAD_REQUEST", "MALFORMED_JSON", detail="There was an error parsing the body"
    )
    assert "400" in documented["responses"]


async def test_a_wrong_method_is_405_naming_every_method_of_the_path(
    client: httpx.AsyncClient,
) -> None:
    response = await client.delete("/orders/00000000-0000-0000-0000-000000000000/")

    problem(response, 405, "BAD_REQUEST", "METHOD_NOT_ALLOWED", detail="Method Not Allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PATCH"}


async def test_an_unknown_path_is_a_problem_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")

    problem(response, 404, "NOT_FOUND", "UNKNOWN_PATH", detail="Not Found")
