"""Introspection answers are computed once per process (graph/introspection.py)."""

from __future__ import annotations

from graphql import get_introspection_query

from graph.schema import create_schema
from graph.settings import GraphQLSettings

GRAPHIQL = get_introspection_query(descriptions=True)


async def test_an_introspection_document_runs_once_and_its_answer_is_reused() -> None:
    schema = create_schema(GraphQLSettings())

    first = await schema.execute(GRAPHIQL)
    again = await schema.execute(GRAPHIQL)
    elsewhere = await create_schema(GraphQLSettings()).execute(GRAPHIQL)

    assert first.errors is None
    assert again.data is first.data
    # Another process (another schema) computes its own, the same.
    assert elsewhere.data == first.data
    assert elsewhere.data is not first.data


async def test_a_document_with_variables_runs_each_time() -> None:
    schema = create_schema(GraphQLSettings())
    document = "query($t: String!) { __type(name: $t) { name } }"

    first = await schema.execute(document, variable_values={"t": "Order"})
    again = await schema.execute(document, variable_values={"t": "Order"})

    assert first.data == again.data == {"__type": {"name": "Order"}}
    assert again.data is not first.data
