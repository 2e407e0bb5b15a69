"""/graphql fuzzed from its own schema: every generated operation is answered with data or with
errors that carry one of our codes; none is INTERNAL_SERVER_ERROR, no answer is a 5xx."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import schemathesis
from graphql import FloatValueNode, introspection_from_schema
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.graphql import nodes

from domain.errors import ErrorKind
from graph import errors
from graph.schema import create_schema
from graph.settings import GraphQLSettings
from tests.support.fuzzing import FuzzTarget, fuzz_config

# Money: well-formed amounts, and anything else a client could put in a Decimal (the server must
# refuse the rest with BAD_USER_INPUT), including the strings REST refuses and numbers at the edges
# of JSON (a negative zero, exponents, values no float holds).
EDGE_MONEY_STRINGS = ["1e2", "１０", "1_000", "+5", " 5", "-0.0", "1e999999999", "NaN", "Infinity"]
EDGE_NUMBERS = ["-0.0", "-0", "0E-10", "1e2", "5E-1", "1e400", "-1e400", "1e-400", "1E+308"]
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(min_value=Decimal(0), max_value=Decimal(10**6), places=2).map(str),
        st.text(max_size=20),
        st.sampled_from(EDGE_MONEY_STRINGS),
    ).map(nodes.String)
    | st.integers().map(nodes.Int)
    | st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float)
    # As literal text: no float holds 1e400, and -0.0 must reach the server as written.
    | st.sampled_from(EDGE_NUMBERS).map(lambda text: FloatValueNode(value=text)),
)

# The schema the app serves at /graphql (by introspection), built the way the app builds it. (Not
# `Schema.introspect()`: it executes synchronously, and the query-cost extension is async.)
schema = schemathesis.graphql.from_dict(
    dict(introspection_from_schema(create_schema(GraphQLSettings())._schema)),
    config=fuzz_config(),
)

EXPECTED_CODES = {
    errors.CODE_BY_KIND[ErrorKind.UNAUTHENTICATED],
    errors.CODE_BY_KIND[ErrorKind.FORBIDDEN],
    errors.CODE_BY_KIND[ErrorKind.NOT_FOUND],
    errors.BAD_USER_INPUT,
    errors.CODE_BY_KIND[ErrorKind.CONFLICT],
    errors.GRAPHQL_PARSE_FAILED,
    errors.GRAPHQL_VALIDATION_FAILED,
    errors.QUERY_TOO_COMPLEX,
}


def only_expected_errors(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """200, and every error is one a client can cause, with its code: no masked bug, no outage."""
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]}"
    body = response.json()
    assert isinstance(body, dict), body
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in EXPECTED_CODES, f"unexpected error {code}: {error}"
    return None


@schema.parametrize()
def test_every_generated_operation_gets_data_or_a_client_error(
    case: Case[Any], fuzz_target: FuzzTarget
) -> None:
    response = case.call(
        base_url=f"{fuzz_target.base_url}/graphql", headers=fuzz_target.headers, timeout=10
    )
    # schemathesis counts any error with a path as a server error; ours carry codes instead, which
    # `only_expected_errors` checks. The schema-conformance and invalid-input checks stay.
    case.validate_response(
        response,
        excluded_checks=[not_a_server_error],
        additional_checks=[only_expected_errors],
    )
