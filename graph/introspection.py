"""Introspection answers, computed once per process and reused.

The schema does not change while a process runs, so neither does the answer to an introspection
document: GraphiQL's own introspection query (sent each time the playground opens) runs once, and
the same document sent again is answered from memory without running anything. Pricing still
applies (graph/cost.py): a document is priced and its rate-limit units spent before this is asked.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import ExecutionResult, FieldNode, OperationDefinitionNode, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

# Fields whose answers depend on the schema alone.
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type", "__typename"})
# Distinct introspection documents kept (the playground's, a client generator's, …); each answer
# is at most GRAPHQL_MAX_COST fields.
ANSWERS_KEPT = 16


class IntrospectionAnswers:
    """The answers to the last `ANSWERS_KEPT` introspection documents, by text and operation name.
    One per schema, so one per process."""

    def __init__(self, size: int = ANSWERS_KEPT) -> None:
        self._size = size
        self._answers: OrderedDict[tuple[str, str | None], ExecutionResult] = OrderedDict()

    def get(self, key: tuple[str, str | None]) -> ExecutionResult | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, key: tuple[str, str | None], answer: ExecutionResult) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)


class CachedIntrospection(SchemaExtension):
    """Answers an operation that selects only introspection fields (and has no variables) from
    `answers` when it was answered before; otherwise runs it and keeps a complete answer."""

    def __init__(self, *, answers: IntrospectionAnswers) -> None:
        super().__init__()
        self._answers = answers

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        key = self._key()
        # A result already set is a refusal (graph/cost.py): nothing runs, nothing is kept.
        if key is None or context.result is not None:
            yield
            return
        known = self._answers.get(key)
        if known is not None:
            # A result set here replaces execution.
            context.result = ExecutionResult(data=known.data)
            yield
            return
        yield
        answer = context.result
        if isinstance(answer, ExecutionResult) and answer.data is not None and not answer.errors:
            self._answers.put(key, answer)

    def _key(self) -> tuple[str, str | None] | None:
        context = self.execution_context
        if (
            context.query is None
            or context.graphql_document is None
            or context.variables
            or context.operation_type is not OperationType.QUERY
        ):
            return None
        operation = get_operation_ast(context.graphql_document, context.operation_name)
        if not isinstance(operation, OperationDefinitionNode) or not all(
            isinstance(selection, FieldNode) and selection.name.value in _INTROSPECTION_ROOTS
            for selection in operation.selection_set.selections
        ):
            return None
        return context.query, context.operation_name
