"""The GraphiQL page and its files come from the app itself, under a strict Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from api.settings import ApiProcessSettings
from graph.settings import GraphQLSettings
from tests.support.app import running_app

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_a_browser_gets_the_playground_with_a_strict_csp(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers=BROWSER)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self';" in csp  # no inline script, no eval, no CDN
    assert "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.text  # every script is a file of ours
    assert "unpkg.com" not in page.text
    assert "jsdelivr" not in page.text


async def test_every_file_the_page_loads_is_served_by_the_app(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers=BROWSER)
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assets = [url for url in urls if not url.startswith("data:")]

    assert len(assets) == 7
    for url in assets:
        assert not url.startswith(("http:", "https:", "//")), url
        response = await client.get(f"/{url}")
        assert response.status_code == 200, url
        expected = "text/css" if url.endswith(".css") else "javascript"
        assert expected in response.headers["content-type"], url
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_vendored_files_keep_their_licences(client: httpx.AsyncClient) -> None:
    for licence_file in (
        "graphiql-3.8.3/LICENSE",
        "react-18.2.0/LICENSE",
        "react-dom-18.2.0/LICENSE",
        "graphql-ws-6.4.2/LICENSE.md",
    ):
        licence = await client.get(f"/graphql/static/vendor/{licence_file}")
        assert licence.status_code == 200
        assert "MIT License" in licence.text


@pytest.fixture
async def no_playground(
    settings: ApiProcessSettings, clean_db: object
) -> AsyncIterator[httpx.AsyncClient]:
    update = {"graphql": GraphQLSettings(playground=False)}
    async with running_app(settings.model_copy(update=update)) as (client, _):
        yield client


async def test_the_playground_can_be_switched_off(no_playground: httpx.AsyncClient) -> None:
    page = await no_playground.get("/graphql", headers=BROWSER)
    asset = await no_playground.get("/graphql/static/playground.js")
    still_served = await no_playground.post("/graphql", json={"query": "{ __typename }"})

    assert page.status_code == 404
    assert asset.status_code == 404
    assert still_served.json()["data"] == {"__typename": "Query"}
