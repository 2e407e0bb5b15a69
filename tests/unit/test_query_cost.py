"""The query cost rule (graph/cost.py), and the default maximum against the playground's examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import get_introspection_query, graphql_sync, parse

from graph import cost
from graph.schema import create_schema
from graph.settings import GraphQLSettings

SCHEMA = create_schema(GraphQLSettings())._schema
PLAYGROUND = Path(__file__).resolve().parents[2] / "graph" / "static" / "playground.js"


def measure(document: str, variables: dict[str, object] | None = None) -> cost.OperationCost:
    return cost.measure(SCHEMA, parse(document), None, variables)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{ me { id email } }", 3),
        # `__typename` is free; introspection counts its lists at their length in this schema.
        ("{ __typename }", 0),
        ("{ __schema { queryType { name } } }", 1 + 1 + 1),
        # A list multiplies what is below it by its limit, 50 by default; nested lists multiply.
        ("{ orders(userId: 1) { id } }", 1 + 50 * 1),
        (
            "{ orders(userId: 1, limit: 3) { id items { price quantity } } }",
            1 + 3 * (1 + 1 + 50 * 2),
        ),
        # A page hands its limit to its list; a variable counts with its value, or its default.
        ("{ ordersPage(userId: 1, limit: 7) { nextCursor items { id } } }", 1 + 1 + 1 + 7),
        ("query($n: Int = 4) { orders(userId: 1, limit: $n) { id } }", 1 + 4),
        # Out-of-range limits are refused by the resolver before any work: they count as 1.
        ("{ orders(userId: 1, limit: 100000) { id } }", 1 + 1),
        ("{ orders(userId: 1, limit: 0) { id } }", 1 + 1),
        # Fragments count like the fields they stand for.
        (
            "query { orders(userId: 1, limit: 2) { ...F ... on Order { status } } } "
            "fragment F on Order { id owner { id } }",
            1 + 2 * (1 + 2 + 1),
        ),
    ],
)
def test_each_field_costs_one_and_lists_multiply(document: str, expected: int) -> None:
    assert measure(document).cost == expected


def test_a_limit_given_in_a_variable_is_priced_with_its_value() -> None:
    document = "query($n: Int) { orders(userId: 1, limit: $n) { id } }"

    assert measure(document, {"n": 10}).cost == 11
    assert measure(document, {"n": None}).cost == 51


def test_top_level_fields_are_counted_with_their_aliases() -> None:
    assert measure("{ a: me { id } b: me { id } __typename }").root_fields == 2
    assert (
        measure('{ a: __schema { description } b: __type(name: "Order") { name } }').root_fields
        == 2
    )
    assert (
        measure('mutation { a: token(email: "x", password: "y") { expiresIn } }').root_fields == 1
    )


def test_the_default_maximum_admits_every_playground_example_with_room() -> None:
    source = PLAYGROUND.read_text()
    lines = re.findall(r'^\s*"(.*)",?$', source[: source.index("].join")], re.MULTILINE)
    document = "\n".join(line.replace('\\"', '"') for line in lines)
    operations = re.findall(r"^(?:query|mutation) (\w+)", document, re.MULTILINE)

    costs = [cost.measure(SCHEMA, parse(document), name, None).cost for name in operations]

    assert len(operations) >= 5
    assert max(costs) * 5 <= GraphQLSettings().max_cost


def _answer_fields(value: object) -> int:
    if isinstance(value, dict):
        return sum(1 + _answer_fields(item) for item in value.values())
    if isinstance(value, list):
        return sum(_answer_fields(item) for item in value)
    return 0


_TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { name } } }"


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (get_introspection_query(descriptions=True), None),
        (
            get_introspection_query(
                descriptions=True,
                specified_by_url=True,
                directive_is_repeatable=True,
                schema_description=True,
                input_value_deprecation=True,
                one_of=True,
            ),
            None,
        ),
        (
            "{ "
            + " ".join(
                f"a{n}: __schema {{ types {{ fields {{ type {{ {_TYPE_REF} }} }} }} }}"
                for n in range(15)
            )
            + " }",
            None,
        ),
        (
            "query($t: String!) { __type(name: $t) { name fields(includeDeprecated: true) "
            "{ name args { name type { name } } } enumValues { name } } }",
            {"t": "Query"},
        ),
        (
            '{ __type(name: "OrderStatus") { enumValues(includeDeprecated: false) { name } } '
            "__schema { types { inputFields { name } possibleTypes { name } interfaces { name } "
            "fields { name } } directives { name args { name } } mutationType { name } } }",
            None,
        ),
    ],
)
def test_introspection_costs_the_fields_of_its_answer(
    document: str, variables: dict[str, object] | None
) -> None:
    """The walk mirrors graphql-core's introspection resolvers: this fails if they move."""
    answer = graphql_sync(SCHEMA, document, variable_values=variables)

    assert answer.errors is None
    assert measure(document, variables).cost == _answer_fields(answer.data)


def test_pricing_introspection_stops_past_the_ceiling() -> None:
    document = parse(
        "{ "
        + " ".join(f"a{n}: __schema {{ types {{ fields {{ name }} }} }}" for n in range(3))
        + " }"
    )

    priced = cost.measure(SCHEMA, document, None, None, ceiling=100)

    assert priced.at_least
    assert 100 < priced.cost < cost.measure(SCHEMA, document, None, None).cost
