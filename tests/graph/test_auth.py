"""register, token and me: the REST auth rules, through GraphQL."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import UserFactory
from tests.graph.conftest import graphql

REGISTER = """
mutation Register($email: String!, $password: String!) {
  register(email: $email, password: $password) { id email createdAt }
}
"""
TOKEN = """
mutation Token($email: String!, $password: String!) {
  token(email: $email, password: $password) { accessToken tokenType expiresIn }
}
"""
ME = "query { me { id email createdAt } }"


async def test_register_log_in_and_read_me(client: httpx.AsyncClient) -> None:
    credentials = {"email": "Alice@Example.com", "password": "correct horse"}

    registered = (await graphql(client, REGISTER, credentials)).ok()["register"]
    token = (await graphql(client, TOKEN, credentials)).ok()["token"]
    me = (
        await graphql(client, ME, headers={"Authorization": f"Bearer {token['accessToken']}"})
    ).ok()["me"]

    assert registered["email"] == "Alice@example.com"  # the domain part is normalised, as on REST
    assert token["tokenType"] == "bearer"
    assert token["expiresIn"] == 30 * 60
    assert me == registered


async def test_a_graphql_token_works_on_rest_and_a_rest_token_on_graphql(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    rest_user = await users.create()
    token = (
        await graphql(client, TOKEN, {"email": rest_user.email, "password": rest_user.password})
    ).ok()["token"]

    me = (await graphql(client, ME, headers=rest_user.headers)).ok()["me"]
    rest = await client.get(
        f"/orders/user/{rest_user.id}/",
        headers={"Authorization": f"Bearer {token['accessToken']}"},
    )

    assert me["id"] == rest_user.id
    assert rest.status_code == 200


async def test_an_email_taken_in_any_letter_case_is_a_conflict(client: httpx.AsyncClient) -> None:
    await graphql(client, REGISTER, {"email": "bob@example.com", "password": "s3cret-password"})

    again = await graphql(
        client, REGISTER, {"email": "BOB@example.com", "password": "s3cret-password"}
    )

    assert again.codes == ["CONFLICT"]
    assert again.errors[0]["message"] == "An account with this email already exists"
    assert again.errors[0]["path"] == ["register"]
    assert again.data is None


@pytest.mark.parametrize(
    ("email", "password", "where"),
    [
        ("not-an-email", "s3cret-password", ["email"]),
        ("carol@example.com", "short", ["password"]),
    ],
)
async def test_invalid_registrations_are_bad_user_input_with_the_rest_rules(
    client: httpx.AsyncClient, email: str, password: str, where: list[str]
) -> None:
    result = await graphql(client, REGISTER, {"email": email, "password": password})

    assert result.codes == ["BAD_USER_INPUT"]
    details = result.errors[0]["extensions"]["errors"]
    assert [detail["loc"] for detail in details] == [where]
    # The REST answer for the same body is a 422 about the same field.
    rest = await client.post("/register/", json={"email": email, "password": password})
    assert rest.status_code == 422
    assert [error["loc"][-1] for error in rest.json()["errors"]] == where


async def test_a_wrong_password_is_unauthenticated(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()

    wrong = await graphql(client, TOKEN, {"email": user.email, "password": "not-the-password"})
    unknown = await graphql(client, TOKEN, {"email": "nobody@example.com", "password": "x" * 8})

    assert wrong.codes == unknown.codes == ["UNAUTHENTICATED"]
    assert (
        wrong.errors[0]["message"] == unknown.errors[0]["message"] == "Incorrect email or password"
    )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Bearer not-a-jwt"}, "Invalid or expired access token"),
        ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "Not authenticated"),
    ],
)
async def test_me_needs_a_valid_bearer_token(
    client: httpx.AsyncClient, headers: dict[str, str], message: str
) -> None:
    result = await graphql(client, ME, headers=headers)

    assert result.codes == ["UNAUTHENTICATED"]
    assert result.errors[0]["message"] == message
    assert result.data is None
