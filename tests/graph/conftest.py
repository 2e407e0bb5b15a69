"""Helpers for the GraphQL tests: operations POSTed to /graphql over ASGI, like any client would;
and a real API process (the pipeline tests' harness) for the client-library and browser tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.fuzzing import fuzz_target
from tests.support.pipeline import pipeline_env, processes, rabbitmq_url
from tests.support.processes import Processes

__all__ = ["fuzz_target", "live_server", "pipeline_env", "processes", "rabbitmq_url"]


@pytest.fixture
async def live_server(processes: Processes, clean_db: AsyncEngine) -> str:
    """The base URL of a real API process (uvicorn) on a free loopback port, this run's servers."""
    api, base_url = processes.api(OUTBOX_RELAY_ENABLED="false")
    await processes.ready(api)
    return base_url


class GraphQLResponse:
    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.text
        self.http = response
        body: dict[str, Any] = response.json()
        self.data: dict[str, Any] | None = body.get("data")
        self.errors: list[dict[str, Any]] = body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [error["extensions"]["code"] for error in self.errors]

    def ok(self) -> dict[str, Any]:
        """The data, after checking there is no error."""
        assert not self.errors, self.errors
        assert self.data is not None
        return self.data


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> GraphQLResponse:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return GraphQLResponse(await client.post("/graphql", json=body, headers=headers))


ORDER_FIELDS = """
    id userId status totalPrice createdAt updatedAt
    items { productId name quantity price }
"""

CREATE_ORDER = f"""
mutation Create($input: CreateOrderInput!) {{
  createOrder(input: $input) {{ {ORDER_FIELDS} }}
}}
"""


def order_input(*prices_and_quantities: tuple[str, int]) -> dict[str, Any]:
    """The GraphQL twin of tests.conftest.order_body."""
    items = [
        {"productId": f"sku-{n}", "name": f"Item {n}", "quantity": quantity, "price": price}
        for n, (price, quantity) in enumerate(prices_and_quantities or (("5.50", 2), ("6.00", 1)))
    ]
    return {"items": items}
