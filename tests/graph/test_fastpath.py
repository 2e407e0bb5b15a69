"""The GraphQL cached-read fast path (graph/fastpath.py) answers exactly as Strawberry would, errors
included, counts each request once, and leaves every other operation to Strawberry."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from redis.asyncio import Redis

from api.settings import ApiProcessSettings
from graph.fastpath import REPRODUCED_EXTENSIONS, GraphQLFastPath
from graph.schema import create_schema
from infra.settings import RateLimitSettings, RedisSettings
from tests.conftest import UserFactory, order_body
from tests.support.app import running_app

_VOLATILE = {"date", "x-request-id"}

ORDER_PAGE = """query OrderPage($id: UUID!) {
  order(id: $id) { __typename id userId status totalPrice createdAt updatedAt version
    items { __typename productId name quantity price } }
}"""


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the fast path answered each request it looked at (True) or passed it on (False)."""
    answered: list[bool] = []
    serve = GraphQLFastPath._serve

    async def spy(self: GraphQLFastPath, *args: Any) -> bool:
        answered.append(await serve(self, *args))
        return answered[-1]

    monkeypatch.setattr(GraphQLFastPath, "_serve", spy)
    return answered


@asynccontextmanager
async def strawberry_only(settings: ApiProcessSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The same app without the fast path: every operation through Strawberry."""
    async with running_app(settings, without=GraphQLFastPath) as (client, _):
        yield client


async def _an_order(client: httpx.AsyncClient, user: Any) -> str:
    created = await client.post("/orders/", json=order_body(), headers=user.headers)
    order_id: str = created.json()["id"]
    return order_id


def _same(fast: httpx.Response, plain: httpx.Response) -> None:
    assert fast.status_code == plain.status_code
    assert fast.content == plain.content
    assert {k: v for k, v in fast.headers.items() if k not in _VOLATILE} == {
        k: v for k, v in plain.headers.items() if k not in _VOLATILE
    }


def _operation(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {"query": query, "variables": variables}


async def _both(
    client: httpx.AsyncClient, settings: ApiProcessSettings, body: dict[str, Any], headers: Any
) -> tuple[httpx.Response, httpx.Response]:
    fast = await client.post("/graphql", json=body, headers=headers)
    async with strawberry_only(settings) as plain_client:
        plain = await plain_client.post("/graphql", json=body, headers=headers)
    return fast, plain


async def test_an_order_page_is_answered_exactly_as_strawberry_answers_it(
    client: httpx.AsyncClient,
    users: UserFactory,
    settings: ApiProcessSettings,
    served: list[bool],
) -> None:
    user = await users.create()
    order_id = await _an_order(client, user)
    headers = {**user.headers, "Origin": "http://localhost:3000"}

    fast, plain = await _both(client, settings, _operation(ORDER_PAGE, {"id": order_id}), headers)

    assert served == [True]
    _same(fast, plain)
    order = fast.json()["data"]["order"]
    assert order["id"] == order_id
    assert order["__typename"] == "Order"
    assert order["items"][0]["__typename"] == "OrderItem"
    assert fast.json()["extensions"]["cost"] > 0
    assert fast.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


@pytest.mark.parametrize(
    "query",
    [
        # An alias, a literal id, fields in another order.
        'query { mine: order(id: "%s") { status id items { price } } }',
        # Unnamed operation with a variable.
        "query($id: UUID!) { order(id: $id) { totalPrice } }",
    ],
)
async def test_other_documents_of_the_shape_match_too(
    query: str,
    client: httpx.AsyncClient,
    users: UserFactory,
    settings: ApiProcessSettings,
    served: list[bool],
) -> None:
    user = await users.create()
    order_id = await _an_order(client, user)
    body = {"query": query % order_id} if "%s" in query else _operation(query, {"id": order_id})

    fast, plain = await _both(client, settings, body, user.headers)

    assert served == [True]
    _same(fast, plain)
    assert "errors" not in fast.json()


async def test_someone_elses_or_a_missing_order_is_the_same_error_both_ways(
    client: httpx.AsyncClient,
    users: UserFactory,
    settings: ApiProcessSettings,
    served: list[bool],
) -> None:
    owner, stranger = await users.create(), await users.create()
    order_id = await _an_order(client, owner)

    for wanted in (order_id, str(uuid.uuid4())):
        fast, plain = await _both(
            client, settings, _operation(ORDER_PAGE, {"id": wanted}), stranger.headers
        )
        _same(fast, plain)
        answer = fast.json()
        assert answer["data"] == {"order": None}
        assert [error["extensions"]["code"] for error in answer["errors"]] == ["NOT_FOUND"]
        assert answer["errors"][0]["path"] == ["order"]
        assert answer["errors"][0]["locations"] == [{"line": 2, "column": 3}]
    assert served == [True, True]


@pytest.mark.parametrize(
    ("variables", "headers_of"),
    [
        ({"id": "not-a-uuid"}, "user"),  # the variable's type refuses it
        ({"id": 5}, "user"),
        ({}, "user"),  # missing
        ({"id": "{order_id}"}, "nobody"),  # no token
    ],
)
async def test_what_the_fast_path_does_not_handle_is_strawberrys_answer(
    variables: dict[str, Any],
    headers_of: str,
    client: httpx.AsyncClient,
    users: UserFactory,
    settings: ApiProcessSettings,
    served: list[bool],
) -> None:
    user = await users.create()
    order_id = await _an_order(client, user)
    variables = {
        k: v.format(order_id=order_id) if isinstance(v, str) else v for k, v in variables.items()
    }
    headers = user.headers if headers_of == "user" else {}

    fast, plain = await _both(client, settings, _operation(ORDER_PAGE, variables), headers)

    assert served == [False]
    _same(fast, plain)
    assert fast.json()["errors"]


async def test_fields_with_resolvers_go_through_strawberry(
    client: httpx.AsyncClient,
    users: UserFactory,
    settings: ApiProcessSettings,
    served: list[bool],
) -> None:
    user = await users.create()
    order_id = await _an_order(client, user)
    query = "query($id: UUID!) { order(id: $id) { id owner { email } } }"

    fast, plain = await _both(client, settings, _operation(query, {"id": order_id}), user.headers)

    assert served == [False]
    _same(fast, plain)
    assert fast.json()["data"]["order"]["owner"]["email"] == user.email


async def test_a_read_is_counted_once_and_refused_alike_past_the_limit(
    settings: ApiProcessSettings, clean_db: object, redis_client: Redis, served: list[bool]
) -> None:
    limited = settings.model_copy(
        update={"rate_limit": RateLimitSettings(enabled=True, default="3/minute")}
    )
    async with running_app(limited) as (client, _):
        users = UserFactory(client)
        user = await users.create()
        order_id = await _an_order(client, user)  # the first unit
        body = _operation(ORDER_PAGE, {"id": order_id})
        answers = [await client.post("/graphql", json=body, headers=user.headers) for _ in range(3)]
    async with strawberry_only(limited) as plain_client:
        # The same user's budget: spent by now, so Strawberry refuses as the fast path did.
        plain = await plain_client.post("/graphql", json=body, headers=user.headers)

    assert served == [True, True, True]
    remaining = [answer.headers.get("X-RateLimit-Remaining") for answer in answers]
    assert remaining[:2] == ["1", "0"]
    refused = answers[2]
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "Retry-After" in refused.headers
    _same(refused, plain)


async def test_a_persisted_query_runs_by_hash_over_post_and_get_after_it_is_registered(
    client: httpx.AsyncClient,
    users: UserFactory,
    settings: ApiProcessSettings,
    served: list[bool],
) -> None:
    user = await users.create()
    order_id = await _an_order(client, user)
    digest = hashlib.sha256(ORDER_PAGE.encode()).hexdigest()
    by_hash = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    variables = {"id": order_id}

    unknown = await client.post(
        "/graphql", json={"variables": variables, "extensions": by_hash}, headers=user.headers
    )
    registered = await client.post(
        "/graphql",
        json={"query": ORDER_PAGE, "variables": variables, "extensions": by_hash},
        headers=user.headers,
    )
    posted = await client.post(
        "/graphql", json={"variables": variables, "extensions": by_hash}, headers=user.headers
    )
    params = {"variables": json.dumps(variables), "extensions": json.dumps(by_hash)}
    got = await client.get("/graphql", params=params, headers=user.headers)
    async with strawberry_only(settings) as plain_client:
        # Another process: it finds the document in Redis, where the first one registered it.
        plain = await plain_client.get("/graphql", params=params, headers=user.headers)

    assert unknown.json()["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
    # Unknown and registering: Strawberry's; by hash once known: the fast path's.
    assert served[:4] == [False, False, True, True]
    assert registered.json()["data"]["order"]["id"] == order_id
    assert posted.content == got.content == registered.content
    _same(got, plain)


async def test_persisted_query_mistakes_are_the_clients_and_get_takes_no_document(
    client: httpx.AsyncClient, users: UserFactory
) -> None:
    user = await users.create()
    wrong_hash = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    bad_version = {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}

    mismatch = await client.post(
        "/graphql", json={"query": "{ me { id } }", "extensions": wrong_hash}, headers=user.headers
    )
    malformed = await client.post(
        "/graphql", json={"query": "{ me { id } }", "extensions": bad_version}, headers=user.headers
    )
    document_in_url = await client.get(
        "/graphql", params={"query": "{ me { id } }"}, headers=user.headers
    )

    for refused in (mismatch, malformed):
        assert refused.status_code == 200
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert document_in_url.status_code == 400
    [refusal] = document_in_url.json()["errors"]
    assert "persisted" in refusal["message"]
    assert refusal["extensions"]["code"] == "BAD_REQUEST"


async def test_without_redis_a_persisted_query_runs_once_sent_with_its_document(
    settings: ApiProcessSettings, clean_db: object
) -> None:
    down = settings.model_copy(update={"redis": RedisSettings(url="redis://127.0.0.1:1/0")})
    me = "query Me { me { id } }"
    by_hash = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(me.encode()).hexdigest()}
    }
    async with running_app(down) as (client, _):
        user = await UserFactory(client).create()
        sent = await client.post(
            "/graphql", json={"query": me, "extensions": by_hash}, headers=user.headers
        )
        again = await client.post("/graphql", json={"extensions": by_hash}, headers=user.headers)

    assert sent.json()["data"] == {"me": {"id": user.id}}
    # Not shared with other processes (no Redis), but this one keeps it.
    assert again.content == sent.content


def test_the_schema_has_exactly_the_extensions_the_fast_path_reproduces(
    settings: ApiProcessSettings,
) -> None:
    # Every optional extension on: introspection off, tracing on.
    graphql = settings.graphql.model_copy(update={"introspection": False})
    schema = create_schema(graphql, tracer_provider=TracerProvider())

    names = {
        (factory.func if isinstance(factory, functools.partial) else factory).__name__
        for factory in schema.extensions
    }

    assert names == set(REPRODUCED_EXTENSIONS)
