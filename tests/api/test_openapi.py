"""The OpenAPI document is what generated clients need: valid OpenAPI 3.1, readable operation ids,
and every documented error as Problem Details with an example."""

from __future__ import annotations

import re
from typing import Any

import httpx
from openapi_spec_validator import validate

from api.schemas import ProblemDetails

OPERATIONS = {
    ("post", "/register/"): "register",
    ("post", "/token"): "createToken",
    ("post", "/orders/"): "createOrder",
    ("get", "/orders/{order_id}/"): "getOrder",
    ("patch", "/orders/{order_id}/"): "updateOrderStatus",
    ("get", "/orders/user/{user_id}/"): "listUserOrders",
    ("get", "/orders/{order_id}/history/"): "getOrderHistory",
    ("get", "/orders/{order_id}/events/"): "streamOrderEvents",
    ("get", "/problems/{name}"): "getProblemType",
    ("get", "/health/live"): "getLiveness",
    ("get", "/health/ready"): "getReadiness",
    ("get", "/users/me/"): "getMe",
}


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


async def test_the_document_is_valid_openapi_3_1(client: httpx.AsyncClient) -> None:
    document = await _document(client)

    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_every_operation_has_a_camel_case_operation_id(client: httpx.AsyncClient) -> None:
    operations = _operations(await _document(client))
    ids = {key: operation["operationId"] for key, operation in operations.items()}

    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", name) for name in ids.values()), ids
    assert len(set(ids.values())) == len(ids)
    assert {key: ids[key] for key in OPERATIONS if key in ids} == OPERATIONS


async def test_every_documented_error_is_a_problem_with_an_example(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    errors = [
        (key, int(status), response)
        for key, operation in _operations(document).items()
        for status, response in operation["responses"].items()
        if int(status) >= 400 and key != ("get", "/health/ready")
    ]

    assert len(errors) > 30
    for key, status, response in errors:
        [(media_type, content)] = response["content"].items()
        assert media_type == "application/problem+json", key
        assert content["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}, key
        example = ProblemDetails.model_validate(content["example"])
        assert example.status == status, (key, status)
        assert example.type == f"/problems/{example.code.lower().replace('_', '-')}"
    assert "HTTPValidationError" not in document["components"]["schemas"]
