"""Abuse limits: depth, aliases, tokens, no batching, the REST rate limits, introspection switch."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import ApiProcessSettings
from graph.settings import GraphQLSettings
from infra.settings import RateLimitSettings
from tests.conftest import UserFactory
from tests.graph.conftest import graphql
from tests.support.app import running_app


@pytest.fixture
async def strict_client(
    settings: ApiProcessSettings, clean_db: object
) -> AsyncIterator[httpx.AsyncClient]:
    """Small limits, introspection off: what a production deployment might run."""
    graphql_settings = GraphQLSettings(
        introspection=False, max_depth=1, max_aliases=2, max_tokens=60
    )
    async with running_app(settings.model_copy(update={"graphql": graphql_settings})) as (
        client,
        _,
    ):
        yield client


async def test_an_operation_deeper_than_the_limit_is_refused_before_it_runs(
    strict_client: httpx.AsyncClient, client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    deep = "query($u: Int!) { orders(userId: $u) { owner { id } } }"

    refused = await graphql(strict_client, deep, {"u": user.id}, headers=user.headers)
    allowed = await graphql(client, deep, {"u": user.id}, headers=user.headers)

    assert refused.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "exceeds maximum operation depth of 1" in refused.errors[0]["message"]
    assert refused.data is None
    assert allowed.ok() == {"orders": []}


async def test_too_many_aliases_are_refused(strict_client: httpx.AsyncClient) -> None:
    result = await graphql(strict_client, "{ a: __typename b: __typename c: __typename }")

    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert result.errors[0]["message"] == "3 aliases found. Allowed: 2"


async def test_a_document_with_too_many_tokens_is_not_even_parsed(
    strict_client: httpx.AsyncClient,
) -> None:
    result = await graphql(strict_client, "{ " + "__typename " * 100 + "}")

    assert result.codes == ["GRAPHQL_PARSE_FAILED"]
    assert "more than 60 tokens" in result.errors[0]["message"]


async def test_a_syntax_error_is_a_parse_failure(client: httpx.AsyncClient) -> None:
    result = await graphql(client, "{ me { id ")

    assert result.codes == ["GRAPHQL_PARSE_FAILED"]


async def test_batched_operations_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    )

    assert response.status_code == 400
    assert "Batching is not enabled" in response.text


async def test_operations_are_not_accepted_in_a_url(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ __typename }"})

    assert response.status_code == 400
    assert "__typename" not in response.text


async def test_introspection_is_on_by_default(client: httpx.AsyncClient) -> None:
    result = await graphql(client, "{ __schema { queryType { name } } }")
    typo = await graphql(client, "{ mee { id } }")

    assert result.ok() == {"__schema": {"queryType": {"name": "Query"}}}
    assert "Did you mean 'me'?" in typo.errors[0]["message"]


async def test_introspection_can_be_switched_off_and_then_nothing_reveals_the_schema(
    strict_client: httpx.AsyncClient,
) -> None:
    schema = await graphql(strict_client, "{ __schema { types { name } } }")
    one_type = await graphql(strict_client, '{ __type(name: "Order") { name } }')
    typename = await graphql(strict_client, "{ __typename }")
    typo = await graphql(strict_client, "{ mee { id } }")

    assert set(schema.codes) == set(one_type.codes) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection has been disabled" in schema.errors[0]["message"]
    assert schema.data is one_type.data is None
    assert typename.ok() == {"__typename": "Query"}
    assert typo.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in typo.errors[0]["message"]


@pytest.fixture
async def limited_client(
    settings: ApiProcessSettings, clean_db: object
) -> AsyncIterator[httpx.AsyncClient]:
    """The REST limits switched on, small, under a Redis prefix of this test's own."""
    limited = settings.model_copy(
        update={
            "rate_limit": RateLimitSettings(enabled=True, default="5/minute", auth="4/minute"),
            "redis": settings.redis.model_copy(
                update={"key_prefix": f"{settings.redis.key_prefix}{uuid.uuid4().hex[:6]}:"}
            ),
        }
    )
    async with running_app(limited) as (client, _):
        yield client


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    credentials = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "s3cret-password"}
    await graphql(
        client,
        "mutation($email: String!, $password: String!) { register(email: $email, "
        "password: $password) { id } }",
        credentials,
    )
    token = await graphql(
        client,
        "mutation($email: String!, $password: String!) { token(email: $email, "
        "password: $password) { accessToken } }",
        credentials,
    )
    return {"Authorization": f"Bearer {token.ok()['token']['accessToken']}"}


async def test_each_top_level_field_spends_a_unit_and_past_the_budget_nothing_runs(
    limited_client: httpx.AsyncClient,
) -> None:
    headers = await _login(limited_client)
    # Three aliased fields, one request: three units, as three REST requests would spend.
    query = "{ a: me { id } b: me { id } c: me { id } }"

    first = await graphql(limited_client, query, headers=headers)
    refused = await graphql(limited_client, query, headers=headers)
    single = await graphql(limited_client, "{ me { id } }", headers=headers)

    assert first.codes == []
    assert first.http.headers["X-RateLimit-Remaining"] == "2"
    assert refused.codes == ["RATE_LIMITED"]
    assert refused.data is None
    assert 1 <= refused.errors[0]["extensions"]["retryAfter"] <= 60
    assert refused.http.headers["Retry-After"] == str(refused.errors[0]["extensions"]["retryAfter"])
    assert refused.http.headers["X-RateLimit-Limit"] == "5"
    # The refused request spent only its first unit (before it was read): one field still fits.
    assert single.codes == []
    assert single.http.headers["X-RateLimit-Remaining"] == "0"


async def test_rest_and_graphql_spend_one_budget_per_user(
    limited_client: httpx.AsyncClient,
) -> None:
    alice = await _login(limited_client)
    bob = await _login(limited_client)
    for _ in range(3):
        assert (await limited_client.get("/orders/user/1/", headers=alice)).status_code in {
            200,
            403,
        }
    for _ in range(2):
        assert (await graphql(limited_client, "{ me { id } }", headers=alice)).codes == []

    over = await graphql(limited_client, "{ me { id } }", headers=alice)
    rest_over = await limited_client.get("/orders/user/1/", headers=alice)
    other = await graphql(limited_client, "{ me { id } }", headers=bob)

    assert over.codes == ["RATE_LIMITED"]
    assert rest_over.status_code == 429
    assert other.codes == []


async def test_aliased_registrations_each_spend_the_auth_budget(
    limited_client: httpx.AsyncClient, clean_db: AsyncEngine
) -> None:
    registrations = " ".join(
        f'r{n}: register(email: "user{n}@example.com", password: "s3cret-password") {{ id }}'
        for n in range(5)
    )

    result = await graphql(limited_client, f"mutation {{ {registrations} }}")

    # One request, yet five spends of the 4/minute auth budget: the fifth is refused, unrun.
    assert result.codes == ["RATE_LIMITED"]
    assert result.errors[0]["path"] == ["r4"]
    async with clean_db.connect() as connection:
        emails = (await connection.execute(text("SELECT email FROM users ORDER BY id"))).scalars()
        assert list(emails) == [f"user{n}@example.com" for n in range(4)]
    login = await graphql(
        limited_client,
        'mutation { token(email: "user0@example.com", password: "s3cret-password") { accessToken } }',
    )
    assert login.codes == ["RATE_LIMITED"]
