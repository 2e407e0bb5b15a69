"""What kind of operation a document asks for, read before it runs."""

from __future__ import annotations

from graphql import GraphQLError, OperationType, get_operation_ast, parse


def operation_type(query: str, operation_name: str | None) -> OperationType | None:
    """The type of the operation `operation_name` of `query`; None when the document does not parse
    or names no such operation (the normal path then reports why)."""
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return None
    return operation.operation if operation is not None else None
