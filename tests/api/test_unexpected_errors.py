"""A bug in a route never shows its details: the answer is a fixed message in the usual error shape
(REST: 500; GraphQL: INTERNAL_SERVER_ERROR), the traceback goes to the log. The bug is made with a
dependency override, in the real app on the real servers."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from api.deps import get_current_user_id
from api.main import create_app
from api.settings import ApiProcessSettings
from graph.context import GraphContext, get_context
from tests.conftest import UserFactory, order_body
from tests.support.problems import problem

SECRET = "secret-detail: password=hunter2 in /srv/orders/domain/thing.py"
LEAKS = ("secret-detail", "hunter2", "Traceback", "RuntimeError", "thing.py")


class _BrokenCache:
    """An order cache whose every read hits a bug."""

    async def get(self, order_id: uuid.UUID) -> None:
        raise RuntimeError(SECRET)


@pytest.fixture
async def app(settings: ApiProcessSettings, clean_db: object) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: see the answer a real server would send, not the exception.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as made:
        yield made


async def test_a_bug_in_a_rest_route_is_a_bare_500(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken_auth() -> int:
        raise RuntimeError(SECRET)

    app.dependency_overrides[get_current_user_id] = broken_auth
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = await client.post("/orders/", json=order_body(), headers={"Authorization": "x"})

    problem(response, 500, "INTERNAL_SERVER_ERROR", detail="Internal server error")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert not any(leak in response.text for leak in LEAKS)
    assert SECRET in caplog.text  # the details are logged, with the traceback


async def test_a_bug_in_a_resolver_is_internal_server_error_without_details(
    app: FastAPI,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await UserFactory(client).create()

    async def context_with_a_broken_cache(request: Request) -> GraphContext:
        context = await get_context(request)
        context.resources = dataclasses.replace(context.resources, order_cache=_BrokenCache())  # type: ignore[arg-type]
        return context

    app.dependency_overrides[get_context] = context_with_a_broken_cache
    with caplog.at_level(logging.ERROR, logger="graph.errors"):
        response = await client.post(
            "/graphql",
            # `owner` has a resolver: Strawberry runs this one, not the cached-read fast path.
            json={"query": f'{{ order(id: "{uuid.uuid4()}") {{ id owner {{ id }} }} }}'},
            headers=user.headers,
        )

    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert not any(leak in response.text for leak in LEAKS)
    assert SECRET in caplog.text


async def test_a_bug_under_the_graphql_fast_path_is_masked_the_same_way(
    app: FastAPI,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await UserFactory(client).create()
    app.state.resources = dataclasses.replace(app.state.resources, order_cache=_BrokenCache())
    with caplog.at_level(logging.ERROR, logger="graph.errors"):
        response = await client.post(
            "/graphql",
            json={"query": f'{{ order(id: "{uuid.uuid4()}") {{ id }} }}'},
            headers=user.headers,
        )

    assert response.status_code == 200
    answer = response.json()
    assert answer["data"] == {"order": None}
    [error] = answer["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["path"] == ["order"]
    assert not any(leak in response.text for leak in LEAKS)
    assert SECRET in caplog.text


async def test_a_bug_before_graphql_runs_is_a_bare_500(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def broken_context(request: Request) -> GraphContext:
        raise RuntimeError(SECRET)

    app.dependency_overrides[get_context] = broken_context
    response = await client.post("/graphql", json={"query": "{ me { id } }"})

    problem(response, 500, "INTERNAL_SERVER_ERROR", detail="Internal server error")
    assert not any(leak in response.text for leak in LEAKS)
