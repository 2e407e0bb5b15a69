"""Parsed documents, kept per process: a document sent again (the same text) is not parsed again.

Parsing is most of what a repeated document costs once its validation is cached (Strawberry's
ValidationCache) and its answer or price is known. Strawberry's own ParserCache parses inside its
hook, where a syntax error escapes Strawberry's error handling (GRAPHQL_PARSE_FAILED is lost); this
one only hands Strawberry documents that parsed before, and keeps what Strawberry parsed.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

from graph.recent import Recent

# Documents kept: each is at most GRAPHQL_MAX_TOKENS tokens (Strawberry's ParserCache keeps 128 too).
DOCUMENTS_KEPT = 128


class ParsedDocuments(SchemaExtension):
    def __init__(self, *, documents: Recent[str, DocumentNode]) -> None:
        super().__init__()
        self._documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        known = self._documents.get(context.query) if context.query else None
        if known is not None:
            # Strawberry parses only a context without a document.
            context.graphql_document = known
        yield
        if known is None and context.query and context.graphql_document is not None:
            self._documents.put(context.query, context.graphql_document)
