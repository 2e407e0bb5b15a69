"""A document sent again is not parsed again; one that fails to parse is kept nowhere and still
answers GRAPHQL_PARSE_FAILED (graph/parsing.py)."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

from graph.parsing import ParsedDocuments
from graph.recent import Recent
from graph.schema import create_schema
from graph.settings import GraphQLSettings


@strawberry.type
class Query:
    @strawberry.field
    def answer(self) -> int:
        return 42


async def test_a_document_sent_again_is_the_one_parsed_before() -> None:
    documents: Recent[str, DocumentNode] = Recent(2)
    executed: list[DocumentNode | None] = []

    class SeenDocuments(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            executed.append(self.execution_context.graphql_document)
            yield

    schema = strawberry.Schema(
        Query, extensions=[lambda: ParsedDocuments(documents=documents), SeenDocuments]
    )

    first = await schema.execute("{ answer }")
    again = await schema.execute("{ answer }")
    other = await schema.execute("{ answer  }")

    assert first.data == again.data == other.data == {"answer": 42}
    assert executed[1] is executed[0]
    assert executed[2] is not executed[0]
    assert len(documents) == 2


async def test_a_document_that_does_not_parse_is_refused_each_time_and_kept_nowhere() -> None:
    schema = create_schema(GraphQLSettings())

    answers = [await schema.execute("{ me { id ") for _ in range(2)]

    for answer in answers:
        assert answer.errors is not None
        assert "Syntax Error" in answer.errors[0].message
