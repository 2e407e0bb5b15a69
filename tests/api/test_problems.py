"""REST errors are Problem Details (RFC 9457): the framework's own failures, OAuth2's `error` on
`/token`, and the `/problems/…` pages their `type` links to."""

from __future__ import annotations

import uuid

import httpx
import pytest

from edge.errors import ERROR_TYPES
from tests.conftest import UserFactory, order_body
from tests.support.problems import problem


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/register/", "text/plain"), ("/orders/", "application/xml"), ("/orders/", None)],
)
async def test_a_body_that_is_not_json_is_415(
    client: httpx.AsyncClient, users: UserFactory, path: str, content_type: str | None
) -> None:
    user = await users.create()
    headers = {**user.headers, **({"Content-Type": content_type} if content_type else {})}

    response = await client.post(path, content=b'{"items": []}', headers=headers)

    problem(response, 415, "BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE")


async def test_json_with_a_charset_or_a_json_suffix_is_json(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/orders/",
            content=httpx.Request("POST", "/", json=order_body()).content,
            headers={**user.headers, "Content-Type": content_type},
        )
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("form", "status", "code", "reason", "oauth2_error"),
    [
        (
            {"username": "x@example.com"},
            422,
            "BAD_USER_INPUT",
            "VALIDATION_FAILED",
            "invalid_request",
        ),
        (
            {"username": "x@example.com", "password": "p", "grant_type": "client_credentials"},
            422,
            "BAD_USER_INPUT",
            "VALIDATION_FAILED",
            "unsupported_grant_type",
        ),
        (
            {"username": "x@example.com", "password": "wrong-password"},
            401,
            "UNAUTHENTICATED",
            "INVALID_CREDENTIALS",
            "invalid_grant",
        ),
    ],
    ids=["missing-password", "other-grant-type", "wrong-credentials"],
)
async def test_token_failures_carry_the_oauth2_error(
    client: httpx.AsyncClient,
    form: dict[str, str],
    status: int,
    code: str,
    reason: str,
    oauth2_error: str,
) -> None:
    response = await client.post("/token", data=form)

    assert problem(response, status, code, reason)["error"] == oauth2_error


async def test_a_json_token_request_is_415_and_an_oauth2_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/token", json={"username": "x@example.com", "password": "p"})

    body = problem(response, 415, "BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE")
    assert body["error"] == "invalid_request"


async def test_other_routes_carry_no_oauth2_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/register/", json={"email": "x@example.com"})

    assert "error" not in problem(response, 422, "BAD_USER_INPUT", "VALIDATION_FAILED")


async def test_a_client_request_id_comes_back_in_the_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/orders/{uuid.uuid4()}/", headers={"X-Request-ID": "trace-42"})

    assert problem(response, 401, "UNAUTHENTICATED", "NOT_AUTHENTICATED")["request_id"] == (
        "trace-42"
    )


@pytest.mark.parametrize("error_type", ERROR_TYPES, ids=lambda error_type: error_type.slug)
async def test_every_problem_type_has_a_page_naming_its_code_and_reasons(
    client: httpx.AsyncClient, error_type: object
) -> None:
    from edge.errors import ErrorType

    assert isinstance(error_type, ErrorType)
    response = await client.get(f"/problems/{error_type.slug}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert error_type.code.value in response.text
    assert all(reason in response.text for reason in error_type.reasons)


async def test_the_type_of_an_answer_is_a_page_of_the_api(client: httpx.AsyncClient) -> None:
    answer = await client.get("/no/such/thing")

    page = await client.get(problem(answer, 404, "NOT_FOUND", "UNKNOWN_PATH")["type"])

    assert page.status_code == 200
    assert "UNKNOWN_PATH" in page.text


async def test_an_unknown_problem_type_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/problems/no-such-problem")

    problem(response, 404, "NOT_FOUND", "UNKNOWN_PATH")
