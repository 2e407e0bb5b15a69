"""GraphQL spans: Strawberry's OpenTelemetry extension, minus what could carry a secret.

Upstream records the whole document as the operation span's `query` attribute and every resolver
argument as `graphql.param.*`. A document may spell a password inline (`token(email: …, password:
"…")`), so the operation span carries the operation's name and type instead of the text, and
arguments whose names speak of secrets are left out.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Generator
from typing import Any

from graphql import GraphQLResolveInfo
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.types import ExecutionContext

_SECRET_ARGUMENT = re.compile(r"password|token|secret", re.IGNORECASE)


def _public_arguments(arguments: dict[str, Any], info: GraphQLResolveInfo[Any]) -> dict[str, Any]:
    return {name: value for name, value in arguments.items() if not _SECRET_ARGUMENT.search(name)}


class GraphQLTracing(OpenTelemetryExtension):
    def __init__(
        self,
        *,
        execution_context: ExecutionContext | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        super().__init__(
            execution_context=execution_context,
            arg_filter=_public_arguments,
            tracer_provider=tracer_provider,
        )

    def on_operation(self) -> Generator[None, None, None]:
        name = self.execution_context.operation_name
        span = self._tracer.start_span(
            f"GraphQL Query: {name}" if name else "GraphQL Query", kind=SpanKind.SERVER
        )
        span.set_attribute("component", "graphql")
        self._span_holder[LifecycleStep.OPERATION] = span
        yield
        # Known only once the document is parsed when the client did not name the operation.
        name = self.execution_context.operation_name
        if name:
            span.update_name(f"GraphQL Query: {name}")
            span.set_attribute("graphql.operation.name", name)
        # No operation type when the document did not parse.
        with contextlib.suppress(RuntimeError):
            span.set_attribute(
                "graphql.operation.type", self.execution_context.operation_type.value
            )
        span.end()
