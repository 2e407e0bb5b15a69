"""The idempotency fingerprint: the same request hashes the same however it was spelled."""

from __future__ import annotations

from domain.orders.schemas import OrderCreate
from domain.orders.service import request_fingerprint


def _fingerprint(body: dict[str, object]) -> str:
    return request_fingerprint(OrderCreate.model_validate(body))


def _item(**fields: object) -> dict[str, object]:
    return {"product_id": "sku-1", "quantity": 1, "price": "5.50", **fields}


def test_equal_requests_spelled_differently_have_one_fingerprint() -> None:
    assert _fingerprint({"items": [_item(price="5.5")]}) == _fingerprint(
        {"items": [_item(price="5.50")]}
    )
    assert _fingerprint({"items": [_item()]}) == _fingerprint({"items": [_item(name=None)]})


def test_a_different_item_quantity_price_or_total_is_a_different_request() -> None:
    base = _fingerprint({"items": [_item()]})

    assert base != _fingerprint({"items": [_item(product_id="sku-2")]})
    assert base != _fingerprint({"items": [_item(quantity=2)]})
    assert base != _fingerprint({"items": [_item(price="5.51")]})
    assert base != _fingerprint({"items": [_item()], "total_price": "5.50"})
