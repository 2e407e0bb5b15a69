"""The REST API fuzzed from its own OpenAPI schema: no 5xx, and every answer is documented."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import Case

from api.main import create_app
from tests.support.fuzzing import FuzzTarget, fuzz_config

# The schema the app publishes at /openapi.json; building the app connects to nothing.
schema = schemathesis.openapi.from_dict(create_app().openapi(), config=fuzz_config())


@schema.parametrize()
def test_every_generated_request_gets_a_documented_answer(
    case: Case[Any], fuzz_target: FuzzTarget
) -> None:
    case.call_and_validate(base_url=fuzz_target.base_url, headers=fuzz_target.headers, timeout=10)


# JSON numbers at the edges of what a price may be, which generation rarely reaches: a negative
# zero, exponents, the largest and smallest doubles. (1e400 and the like, which no float holds, are
# sent as raw bytes in tests/abuse/test_bodies.py.)
EDGE_NUMBERS = [-0.0, 0.0, 1e2, 5e-1, 1e308, -1e308, 5e-324, 1e-400, 99999999.995]


@pytest.mark.parametrize("price", EDGE_NUMBERS, ids=repr)
@pytest.mark.parametrize("with_total", [False, True])
def test_prices_at_the_edges_of_json_numbers_get_a_documented_answer(
    price: float, with_total: bool, fuzz_target: FuzzTarget
) -> None:
    body: dict[str, Any] = {"items": [{"product_id": "a", "quantity": 1, "price": price}]}
    if with_total:
        body["total_price"] = price
    case = schema["/orders/"]["POST"].Case(body=body)
    case.call_and_validate(base_url=fuzz_target.base_url, headers=fuzz_target.headers, timeout=10)
