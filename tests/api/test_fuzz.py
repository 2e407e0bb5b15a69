"""The REST API fuzzed from its own OpenAPI schema: no 5xx, and every answer is documented."""

from __future__ import annotations

from typing import Any

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
