"""The query cost rule (graph/cost.py), and the default maximum against the playground's examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse

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
        ("{ __typename __schema { types { name } } }", 0),
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
