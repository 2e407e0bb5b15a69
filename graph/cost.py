"""What an operation costs, measured on its document before any field runs.

Each field costs 1. A list field multiplies what is selected below it by its size: its `limit`
argument (the default page size, 50, when omitted or when the field takes none). A field returning
one page (`ordersPage`, or a connection such as `searchOrders` with its `first`) hands its `limit`
to the list inside it (its `items`, its `edges`), so a page is counted once. Nested lists multiply: `orders(limit: 100) { items { price } }` costs 1 + 100 × (1 + 50 × 1).

Introspection (`__schema`, `__type`) follows the same rules, its lists counted at their true length
for this schema: its cost is the number of fields of its answer (graph/introspection.py), so
GraphiQL's own introspection query fits and fifteen aliased `__schema { types { fields { type … } } }`
with whole type references do not. `__typename` costs nothing anywhere: it adds no work beyond the
object it names.

The same walk counts the operation's top-level fields (aliases included), each of which spends one
unit of the rate limit, as the same work would over REST.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_introspection_type,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from domain.orders.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from domain.ratelimit.budget import RateLimitExceeded
from graph.context import GraphContext
from graph.errors import QUERY_TOO_COMPLEX
from graph.introspection import DocumentKey, IntrospectionPrice, PastCeiling
from graph.recent import Recent

# A list's size: `limit`, or `first` (a Relay connection's, which hands it to its `edges`).
LIMIT_ARGUMENTS = ("limit", "first")


@dataclass(frozen=True, slots=True)
class OperationCost:
    cost: int
    # Top-level fields, aliases included, `__typename` excluded.
    root_fields: int
    # True when the walk stopped past `ceiling`: `cost` is then only a lower bound.
    at_least: bool = False


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    ceiling: int | None = None,
) -> OperationCost:
    """The cost of the operation `operation_name` of a validated `document`.

    Pricing introspection walks the parts of the schema its answer holds: given a `ceiling` (the
    maximum cost allowed), the walk stops once it has seen more fields than that, so pricing a
    giant introspection query costs no more than pricing one that fits."""
    operation = get_operation_ast(document, operation_name)
    root_type = schema.get_root_type(operation.operation) if operation is not None else None
    if operation is None or root_type is None:
        return OperationCost(cost=0, root_fields=0)
    walk = _Walk(schema, document, _variable_values(schema, operation, variables), ceiling)
    fields = walk.fields(operation.selection_set, root_type)
    try:
        total = sum(walk.field_cost(node, field, None) for node, field in fields)
    except PastCeiling:
        return OperationCost(cost=walk.introspection.priced, root_fields=len(fields), at_least=True)
    return OperationCost(cost=total, root_fields=len(fields))


def _variable_values(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> dict[str, Any]:
    # Coerced with their defaults; values execution will refuse anyway count as absent.
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {})
    )
    return {} if isinstance(coerced, list) else dict(coerced.coerced)


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: dict[str, Any],
        ceiling: int | None,
    ) -> None:
        self._schema = schema
        self._variables = variables
        self.introspection = IntrospectionPrice(schema, self.fields, variables, ceiling)
        self._fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def fields(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType
    ) -> list[tuple[FieldNode, GraphQLField]]:
        """The fields selected on `parent`, through fragments (validation ruled out cycles)."""
        found: list[tuple[FieldNode, GraphQLField]] = []
        known: dict[str, GraphQLField] = getattr(parent, "fields", {})
        if parent is self._schema.query_type:
            known = {**known, "__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                field = known.get(selection.name.value)
                if field is not None:
                    found.append((selection, field))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self._schema.get_type(condition.name.value) if condition else parent
                found += self.fields(selection.selection_set, on or parent)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is not None:
                    on = self._schema.get_type(fragment.type_condition.name.value)
                    found += self.fields(fragment.selection_set, on or parent)
        return found

    def field_cost(self, node: FieldNode, field: GraphQLField, page_size: int | None) -> int:
        if is_introspection_type(get_named_type(field.type)):
            return self.introspection.cost(node, field)
        limit = self._limit(node, field)
        field_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        is_list = isinstance(field_type, GraphQLList)
        below = 0
        if node.selection_set is not None:
            # A page (a single object with a `limit`) hands its limit to the list inside it.
            inner_page = limit if not is_list else None
            below = sum(
                self.field_cost(child, child_field, inner_page)
                for child, child_field in self.fields(
                    node.selection_set, get_named_type(field.type)
                )
            )
        size = (limit or page_size or DEFAULT_PAGE_SIZE) if is_list else 1
        return 1 + size * below

    def _limit(self, node: FieldNode, field: GraphQLField) -> int | None:
        """The field's `limit` as execution will see it; None when the field takes no `limit`. A
        value outside 1..MAX_PAGE_SIZE counts as 1: the resolver refuses it (BAD_USER_INPUT, the
        more useful answer) before any work."""
        name = next((name for name in LIMIT_ARGUMENTS if name in field.args), None)
        if name is None:
            return None
        value: object = field.args[name].default_value
        for given in node.arguments or ():
            if given.name.value == name:
                value = value_from_ast(given.value, GraphQLInt, self._variables)
        if not isinstance(value, int) or isinstance(value, bool):
            return DEFAULT_PAGE_SIZE
        return value if 1 <= value <= MAX_PAGE_SIZE else 1


# An operation costing more than this share of GRAPHQL_MAX_COST is costly: it holds the event loop
# for long stretches (graphql-core completes a list without yielding), so costly operations execute
# one at a time in each process, so cheap requests are not starved behind them (`make bench`
# scenario 9, docs/performance.md).
COSTLY_SHARE_OF_MAX = 10


# Prices kept of documents without variables (by text and operation name).
PRICES_KEPT = 1_000


def costly_operations_gate() -> asyncio.Semaphore:
    """The gate costly operations pass one at a time; one per schema, so one per process."""
    return asyncio.Semaphore(1)


class QueryCost(SchemaExtension):
    """Prices each operation before it runs: over `max_cost` it is refused (QUERY_TOO_COMPLEX) and
    nothing runs; otherwise each top-level field past the first spends one more unit of the rate
    limit (the request's first unit is spent before parsing, graph/app.py), and past the budget
    nothing runs either; a costly operation waits for the `costly` gate. Every answer carries the
    cost in `extensions.cost`."""

    def __init__(
        self,
        *,
        max_cost: int,
        costly: asyncio.Semaphore,
        prices: Recent[DocumentKey, OperationCost],
    ) -> None:
        super().__init__()
        self._max_cost = max_cost
        self._costly = costly
        self._prices = prices
        self._cost = 0

    def _measure(self) -> OperationCost:
        """The operation's cost; a document without variables costs the same each time it comes,
        so its price is kept (`prices`)."""
        context = self.execution_context
        assert context.graphql_document is not None
        key = (context.query, context.operation_name) if context.query else None
        known = self._prices.get(key) if key is not None and not context.variables else None
        if known is not None:
            return known
        measured = measure(
            context.schema._schema,
            context.graphql_document,
            context.operation_name,
            context.variables,
            ceiling=self._max_cost,
        )
        if key is not None and not context.variables:
            self._prices.put(key, measured)
        return measured

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        measured = self._measure()
        self._cost = measured.cost
        refusal: GraphQLError | None = None
        if measured.cost > self._max_cost:
            costs = f"at least {measured.cost}" if measured.at_least else str(measured.cost)
            refusal = GraphQLError(
                f"The operation costs {costs}, more than the maximum of {self._max_cost}",
                extensions={
                    "code": QUERY_TOO_COMPLEX,
                    "cost": measured.cost,
                    "maxCost": self._max_cost,
                },
            )
        elif measured.root_fields > 1:
            graph_context: GraphContext = context.context
            try:
                await graph_context.spend_rate_limit(measured.root_fields - 1)
            except RateLimitExceeded as exc:
                refusal = GraphQLError(str(exc), original_error=exc)
        if refusal is not None:
            if context.operation_type is OperationType.SUBSCRIPTION:
                # Strawberry's subscription path ignores a result set here; an error raised here
                # becomes the subscription's answer instead, and nothing subscribes.
                raise refusal
            # A result set here replaces execution: no resolver runs.
            context.result = ExecutionResult(data=None, errors=[refusal])
        elif measured.cost > self._max_cost // COSTLY_SHARE_OF_MAX:
            async with self._costly:
                yield
            return
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": self._cost}
