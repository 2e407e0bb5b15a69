"""Introspection: its price, the size of its answer, and its answers, computed once per process.

The schema does not change while a process runs, so neither does the answer to an introspection
document. Its price (graph/cost.py's rules, lists counted at their length in this schema) is the
number of fields of that answer, found without running a resolver. GraphiQL's own introspection
query (sent each time the playground opens) runs once, and the same document sent again is answered
from memory; it is priced and its rate-limit units spent first, as any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    GraphQLWrappingType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_wrapping_type,
    print_ast,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from graph.recent import Recent

# The fields a selection set selects on a type, through fragments (graph/cost.py's walk).
SelectedFields = Callable[
    [SelectionSetNode, GraphQLNamedType], list[tuple[FieldNode, GraphQLField]]
]


class PastCeiling(Exception):
    """The answer has more fields than the ceiling: pricing stopped there."""


class IntrospectionPrice:
    """The price of the introspection fields of one document: 1 per field of the answer.

    It walks the parts of the schema the answer would hold, as graphql-core's introspection
    resolvers find them (graphql/type/introspection.py; tests/unit/test_query_cost.py compares the
    prices with executed answers). A part met again with the same selection is not walked again;
    past `ceiling` fields, `PastCeiling`: pricing a giant document costs no more than one that fits.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        selected: SelectedFields,
        variables: dict[str, Any],
        ceiling: int | None,
    ) -> None:
        self._schema = schema
        self._selected = selected
        self._variables = variables
        self._ceiling = ceiling
        # Fields priced so far, each a distinct field of the answer.
        self.priced = 0
        # (selection set's shape, part of the schema) -> cost.
        self._known: dict[tuple[int, int | str], int] = {}
        self._fields: dict[tuple[int, str], list[tuple[FieldNode, GraphQLField]]] = {}
        self._arguments: dict[int, dict[str, Any]] = {}
        # Selection sets by shape: equal ones (fifteen aliased copies) are priced once.
        self._shape_of: dict[int, int] = {}
        self._shapes: dict[tuple[object, ...], int] = {}

    def cost(self, node: FieldNode, field: GraphQLField, source: object = None) -> int:
        """1, plus what the selection costs on each part of the schema the field answers with
        (for `source`, the part it is asked of; None at the query's root)."""
        self.priced += 1
        if self._ceiling is not None and self.priced > self._ceiling:
            raise PastCeiling
        if node.selection_set is None:
            return 1
        value = _answer(self._schema, source, node.name.value, self._arguments_of(node, field))
        values = value if isinstance(value, list) else [] if value is None else [value]
        named = get_named_type(field.type)
        return 1 + sum(self._object_cost(node.selection_set, named, one) for one in values)

    def _object_cost(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, source: object
    ) -> int:
        # Wrappers (`[Order!]!`) are new objects for each field; equal ones answer alike.
        identity = str(source) if is_wrapping_type(source) else id(source)
        shape = self._shape(selection_set)
        key = (shape, identity)
        known = self._known.get(key)
        if known is None:
            fields_key = (shape, parent.name)
            fields = self._fields.get(fields_key)
            if fields is None:
                fields = self._fields[fields_key] = self._selected(selection_set, parent)
            known = self._known[key] = sum(
                self.cost(child, child_field, source) for child, child_field in fields
            )
        return known

    def _shape(self, selection_set: SelectionSetNode) -> int:
        """A number standing for what `selection_set` selects (aliases aside, which change no
        cost): equal selections, such as fifteen aliased copies, are priced once."""
        shape = self._shape_of.get(id(selection_set))
        if shape is None:
            parts = tuple(self._part(selection) for selection in selection_set.selections)
            shape = self._shapes.setdefault(parts, len(self._shapes))
            self._shape_of[id(selection_set)] = shape
        return shape

    def _part(self, selection: SelectionNode) -> tuple[object, ...]:
        if isinstance(selection, FieldNode):
            arguments = tuple(print_ast(argument) for argument in selection.arguments or ())
            below = self._shape(selection.selection_set) if selection.selection_set else None
            return ("field", selection.name.value, arguments, below)
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            on = condition.name.value if condition else None
            return ("inline", on, self._shape(selection.selection_set))
        assert isinstance(selection, FragmentSpreadNode)
        # Fragments are named once per document.
        return ("spread", selection.name.value)

    def _arguments_of(self, node: FieldNode, field: GraphQLField) -> dict[str, Any]:
        found = self._arguments.get(id(node))
        if found is None:
            found = {name: argument.default_value for name, argument in field.args.items()}
            for given in node.arguments or ():
                argument = field.args.get(given.name.value)
                if argument is not None:
                    found[given.name.value] = value_from_ast(
                        given.value, argument.type, self._variables
                    )
            self._arguments[id(node)] = found
        return found


def _answer(schema: GraphQLSchema, source: object, name: str, arguments: dict[str, Any]) -> object:
    """What the introspection field `name` of `source` answers: a part of the schema, a list of
    them, or None (leaves too)."""
    with_deprecated = bool(arguments.get("includeDeprecated"))

    def listed(items: Iterable[Any]) -> list[object]:
        return [
            item
            for item in items
            if with_deprecated or getattr(item, "deprecation_reason", None) is None
        ]

    if source is None:  # the query's root
        type_name = arguments.get("name")
        if name == "__type":
            return schema.get_type(type_name) if isinstance(type_name, str) else None
        return schema
    if isinstance(source, GraphQLSchema):
        if name == "types":
            return list(source.type_map.values())
        if name == "directives":
            return listed(source.directives)
        return getattr(source, _SCHEMA_ROOTS.get(name, "-"), None)
    if name == "args" and isinstance(source, GraphQLField | GraphQLDirective):
        return listed(source.args.values())
    if name == "type" and isinstance(source, GraphQLField | GraphQLArgument | GraphQLInputField):
        return source.type
    if isinstance(source, GraphQLObjectType | GraphQLInterfaceType):
        if name == "fields":
            return listed(source.fields.values())
        if name == "interfaces":
            return list(source.interfaces)
    if name == "possibleTypes" and isinstance(source, GraphQLInterfaceType | GraphQLUnionType):
        return list(schema.get_possible_types(source))
    if name == "enumValues" and isinstance(source, GraphQLEnumType):
        return listed(source.values.values())
    if name == "inputFields" and isinstance(source, GraphQLInputObjectType):
        return listed(source.fields.values())
    if name == "ofType" and isinstance(source, GraphQLWrappingType):
        return source.of_type
    return None


_SCHEMA_ROOTS = {
    "queryType": "query_type",
    "mutationType": "mutation_type",
    "subscriptionType": "subscription_type",
}

# Fields whose answers depend on the schema alone.
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type", "__typename"})
# Distinct introspection documents kept (the playground's, a client generator's, …); each answer
# is at most GRAPHQL_MAX_COST fields.
ANSWERS_KEPT = 16


# An operation's text and name: what identifies a document sent again.
DocumentKey = tuple[str, str | None]


class CachedIntrospection(SchemaExtension):
    """Answers an operation that selects only introspection fields (and has no variables) from
    `answers` when it was answered before; otherwise runs it and keeps a complete answer."""

    def __init__(self, *, answers: Recent[DocumentKey, ExecutionResult]) -> None:
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

    def _key(self) -> DocumentKey | None:
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
