"""What the GraphQL fast path (graph/fastpath.py) knows of a document: compiled once into a plan.

A document qualifies when it is one query of `order(id:)` selecting only the order's own data fields
(no resolver of their own, no fragment, no directive), valid by the endpoint's own rules and cheap by
graph/cost.py. Its plan completes the resolver's `Order` object as graphql-core would: each field
through its type's own serialiser, in the order selected.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
    validate,
)
from strawberry import Schema

from graph.cost import COSTLY_SHARE_OF_MAX, measure

# Where Strawberry keeps, on each graphql-core field, the field it was built from.
_STRAWBERRY_FIELD = "strawberry-definition"


@dataclass(frozen=True, slots=True)
class PlannedField:
    """One selected field: its response key and how to complete it from the resolver's object."""

    key: str
    # The attribute on the Strawberry object; None for `__typename`.
    attribute: str | None
    typename: str
    # Scalars and enums: the schema's serialiser. Objects: the fields selected below.
    serialize: Callable[[Any], Any] | None
    children: tuple[PlannedField, ...]
    is_list: bool


@dataclass(frozen=True, slots=True)
class Plan:
    key: str
    node: FieldNode
    operation_name: str | None
    id_variable: str | None
    id_literal: str | None
    fields: tuple[PlannedField, ...]
    cost: int


def compile_plan(
    document_text: str,
    *,
    schema: Schema,
    rules: list[Any],
    max_tokens: int,
    max_cost: int,
) -> Plan | None:
    """The plan for a document of exactly this shape (valid, within the limits), else None."""
    try:
        document = parse(document_text, max_tokens=max_tokens)
    except GraphQLError:
        return None
    graphql_schema = schema._schema
    if validate(graphql_schema, document, rules):
        return None
    [*definitions] = document.definitions
    if len(definitions) != 1 or not isinstance(definitions[0], OperationDefinitionNode):
        return None
    operation = definitions[0]
    if operation.operation is not OperationType.QUERY or operation.directives:
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    root = selections[0]
    if root.name.value != "order" or root.directives or root.selection_set is None:
        return None
    [argument] = root.arguments or ()  # validation saw to it: `id` is its only argument
    id_variable = id_literal = None
    if isinstance(argument.value, VariableNode):
        id_variable = argument.value.name.value
    elif isinstance(argument.value, StringValueNode):
        id_literal = argument.value.value
    else:
        return None
    order_type = graphql_schema.query_type.fields["order"].type  # type: ignore[union-attr]
    fields = _fields(root, order_type)
    if fields is None:
        return None
    operation_name = operation.name.value if operation.name else None
    priced = measure(graphql_schema, document, operation_name, {})
    if priced.cost > max_cost // COSTLY_SHARE_OF_MAX:
        return None
    return Plan(
        key=root.alias.value if root.alias else "order",
        node=root,
        operation_name=operation_name,
        id_variable=id_variable,
        id_literal=id_literal,
        fields=fields,
        cost=priced.cost,
    )


def _fields(node: FieldNode, output_type: GraphQLOutputType) -> tuple[PlannedField, ...] | None:
    """The fields selected on `node`, if every one is plain data (no resolver of its own), no
    fragments, no directives, no response key twice; None otherwise."""
    object_type = _unwrap(output_type)
    if not isinstance(object_type, GraphQLObjectType) or node.selection_set is None:
        return None
    found: list[PlannedField] = []
    keys: set[str] = set()
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return None
        name = selection.name.value
        key = selection.alias.value if selection.alias else name
        if key in keys:
            return None
        keys.add(key)
        if name == "__typename":
            found.append(PlannedField(key, None, object_type.name, None, (), is_list=False))
            continue
        graphql_field = object_type.fields.get(name)
        strawberry_field = graphql_field and graphql_field.extensions.get(_STRAWBERRY_FIELD)
        if (
            strawberry_field is None
            or strawberry_field.base_resolver
            or strawberry_field.extensions
        ):
            return None
        field_type = graphql_field.type
        leaf = _unwrap(field_type)
        is_list = isinstance(_nullable(field_type), GraphQLList)
        if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
            if selection.selection_set is not None:
                return None
            found.append(
                PlannedField(
                    key, strawberry_field.python_name, leaf.name, leaf.serialize, (), is_list
                )
            )
            continue
        children = _fields(selection, field_type)
        if children is None:
            return None
        found.append(
            PlannedField(key, strawberry_field.python_name, str(leaf), None, children, is_list)
        )
    return tuple(found)


def _nullable(output_type: GraphQLOutputType) -> GraphQLOutputType:
    return output_type.of_type if isinstance(output_type, GraphQLNonNull) else output_type


def _unwrap(output_type: GraphQLOutputType) -> GraphQLOutputType:
    while isinstance(output_type, GraphQLNonNull | GraphQLList):
        output_type = output_type.of_type
    return output_type


def complete(fields: tuple[PlannedField, ...], source: object) -> dict[str, Any]:
    """As graphql-core completes these fields: each value through its type's serialiser."""
    completed: dict[str, Any] = {}
    for field in fields:
        if field.attribute is None:
            completed[field.key] = field.typename
            continue
        value = getattr(source, field.attribute)
        if value is None:
            completed[field.key] = None
        elif field.is_list:
            completed[field.key] = [_one(field, item) for item in value]
        else:
            completed[field.key] = _one(field, value)
    return completed


def _one(field: PlannedField, value: object) -> Any:
    if value is None:
        return None
    if field.serialize is not None:
        return field.serialize(value)
    return complete(field.children, value)


def order_id_in(plan: Plan, variables: object) -> uuid.UUID | None:
    """The order's id from the document or the variables, if it is a UUID string; else None
    (the normal path reports what is wrong with it)."""
    if plan.id_literal is not None:
        value: object = plan.id_literal
    elif isinstance(variables, dict):
        value = variables.get(plan.id_variable)
    else:
        return None
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
