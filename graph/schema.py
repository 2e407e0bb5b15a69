"""The schema: root fields (names and docs here, resolvers in graph.resolvers) and its abuse limits."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncGenerator, Callable, Sequence
from decimal import Decimal
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from opentelemetry.trace import TracerProvider
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_limit_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, ExecutionResult

from graph import resolvers, search
from graph import webhooks as hooks
from graph.cost import PRICES_KEPT, QueryCost, costly_operations_gate
from graph.errors import ErrorCodes, log_errors, shape_error
from graph.introspection import ANSWERS_KEPT, CachedIntrospection
from graph.parsing import DOCUMENTS_KEPT, ParsedDocuments
from graph.permissions import IsStaff
from graph.recent import Recent
from graph.search import OrderConnection
from graph.settings import GraphQLSettings
from graph.tracing import GraphQLTracing
from graph.types import DECIMAL, Order, OrderEvent, OrderPage, Token, User


@strawberry.type
class Query:
    me: User = strawberry.field(
        resolver=resolvers.me, description="Your account. Needs `Authorization: Bearer <token>`."
    )
    order: Order | None = strawberry.field(
        resolver=resolvers.order,
        description="One of your orders (staff: any order), from the cache when possible; "
        "NOT_FOUND if unknown or not yours.",
    )
    orders: list[Order] = strawberry.field(
        resolver=resolvers.orders_list,
        description="Your orders, newest first (staff: any user's; FORBIDDEN for another user's "
        "otherwise). `limit` is 1–100; `after` is a `nextCursor` from `ordersPage`.",
        deprecation_reason="use searchOrders",
    )
    orders_page: OrderPage = strawberry.field(
        resolver=resolvers.orders_page,
        description="Like `orders`, with the cursor of the next page.",
        deprecation_reason="use searchOrders",
    )
    webhooks: list[hooks.Webhook] = strawberry.field(
        resolver=hooks.webhooks,
        permission_classes=[IsStaff],
        description="Every webhook endpoint, oldest first (staff only).",
    )
    webhook: hooks.Webhook | None = strawberry.field(
        resolver=hooks.webhook,
        permission_classes=[IsStaff],
        description="One webhook endpoint (staff only); NOT_FOUND if unknown.",
    )
    search_orders: OrderConnection = strawberry.field(
        resolver=search.search_orders,
        description="Search orders: staff every order, a customer their own. `first` is 1–100; "
        "`after` is an `endCursor` of the same search (another filter or sort is BAD_USER_INPUT). "
        "Keyset pages: an order matching when the first page was read appears exactly once "
        "across the pages while others are created.",
    )


@strawberry.type
class Mutation:
    register: User = strawberry.mutation(
        resolver=resolvers.register,
        description="Create an account: a unique email (in any letter case), a password of 8+ "
        "characters.",
    )
    token: Token = strawberry.mutation(
        resolver=resolvers.token,
        description="Log in: a bearer token, for the header `Authorization: Bearer <accessToken>`. "
        "`scope` (OAuth2, space-separated) asks for fewer scopes than the account has (staff: "
        "`orders` to act as a customer); one the account lacks is BAD_USER_INPUT. "
        "`deviceToken`: the `deviceToken` an earlier login of this account answered to this "
        "client; with it, others' failed guesses do not rate-limit this client's login.",
    )
    create_order: Order = strawberry.mutation(
        resolver=resolvers.create_order,
        description="Create a PENDING order; the server computes `totalPrice` (Σ quantity × price). "
        "`idempotencyKey` (as REST's Idempotency-Key: 1–255 visible ASCII characters, kept 24 hours) "
        "makes a retry safe: the same key and input return the order the first call created and "
        "create nothing; the same key with other input is BAD_USER_INPUT.",
    )
    update_order_status: Order = strawberry.mutation(
        resolver=resolvers.update_order_status,
        description="PENDING → PAID | CANCELED, PAID → SHIPPED | CANCELED; any other move is a "
        "CONFLICT. Staff may move any order; a customer only their own, and with "
        "CUSTOMER_STATUS_CHANGES=cancel only PENDING → CANCELED (other moves are FORBIDDEN). "
        "`note` (1–500 characters after trimming) goes into the history. With `expectedVersion` "
        "(an `Order.version` you read), only if the order is still at that version; otherwise "
        "PRECONDITION_FAILED and nothing changes.",
    )
    create_webhook: hooks.CreatedWebhook = strawberry.mutation(
        resolver=hooks.create_webhook,
        permission_classes=[IsStaff],
        description="Register an endpoint (staff only); its signing secret is shown only here. A "
        "URL that is or resolves to a loopback, private, link-local, unique-local, multicast or "
        "reserved address is BAD_USER_INPUT naming the rule; so is http:// in production.",
    )
    update_webhook: hooks.Webhook = strawberry.mutation(
        resolver=hooks.update_webhook,
        permission_classes=[IsStaff],
        description="Change an endpoint's url, events, description or enabled (staff only).",
    )
    delete_webhook: bool = strawberry.mutation(
        resolver=hooks.delete_webhook,
        permission_classes=[IsStaff],
        description="Delete an endpoint; its pending deliveries are dropped (staff only).",
    )
    rotate_webhook_secret: hooks.WebhookSecret = strawberry.mutation(
        resolver=hooks.rotate_webhook_secret,
        permission_classes=[IsStaff],
        description="A new signing secret; for WEBHOOK_SECRET_OVERLAP_SECONDS deliveries are signed "
        "with the old one too (staff only).",
    )
    retry_webhook_delivery: hooks.WebhookDelivery = strawberry.mutation(
        resolver=hooks.retry_webhook_delivery,
        permission_classes=[IsStaff],
        description="Send a failed delivery again, same webhook-id; CONFLICT unless it is failed "
        "(staff only).",
    )


@strawberry.type
class Subscription:
    """Live updates over WebSocket at /graphql (`graphql-transport-ws`, or the older `graphql-ws`).

    Authenticate in `connection_init`: `{"Authorization": "Bearer <token>"}` (or send the header with
    the upgrade request); without a valid token, or once it expires, the socket closes with 4401.
    """

    order_events: AsyncGenerator[OrderEvent, None] = strawberry.subscription(
        resolver=resolvers.order_events,
        description="The changes of one of your orders (staff: any order) as they happen "
        "(NOT_FOUND if not yours). "
        "With `afterSeq`, the history after that `seq` comes first, then the live events, with no "
        "gap and no duplicate: resume with the last `seq` you saw.",
    )
    my_order_events: AsyncGenerator[OrderEvent, None] = strawberry.subscription(
        resolver=resolvers.my_order_events,
        description="The changes of all your orders as they happen, new orders included.",
    )


class _Schema(strawberry.Schema):
    async def stream(self, *args: Any, **kwargs: Any) -> StreamResult:
        # Operations over WebSocket (subscriptions) come through here, and their results never
        # pass the HTTP view's shaping: each gets its codes on the way out.
        return _shaped(await super().stream(*args, **kwargs))

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry would log every error; only ours (bugs, outages) belong in the log.
        log_errors(errors)


async def _shaped(results: StreamResult) -> StreamResult:
    async with contextlib.aclosing(results):
        async for result in results:
            if isinstance(result, ExecutionResult) and result.errors:
                result.errors = [shape_error(error) for error in result.errors]
            yield result


def validation_limit_rules(settings: GraphQLSettings) -> list[type[ASTValidationRule]]:
    """The depth and alias limits, as validation rules beside graphql-core's own."""
    return [
        depth_limit_rule(settings.max_depth, should_ignore=None),
        alias_limit_rule(settings.max_aliases),
    ]


def create_schema(
    settings: GraphQLSettings,
    *,
    limit_rules: list[type[ASTValidationRule]] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> strawberry.Schema:
    """The schema with its abuse limits. Extensions are factories: each operation gets fresh ones.

    The `limit_rules` (validation_limit_rules; given when they are shared) are built once: the
    validation cache is keyed by the rule classes, and the stock QueryDepthLimiter/MaxAliasesLimiter
    extensions would build new ones for every request."""
    if limit_rules is None:
        limit_rules = validation_limit_rules(settings)
    extensions: Sequence[Callable[[], SchemaExtension]] = [
        ErrorCodes,
        functools.partial(
            QueryCost,
            max_cost=settings.max_cost,
            costly=costly_operations_gate(),
            prices=Recent(PRICES_KEPT),
        ),
        # After the pricing: an introspection answer given again is priced and spent like any other.
        functools.partial(CachedIntrospection, answers=Recent(ANSWERS_KEPT)),
        functools.partial(ParsedDocuments, documents=Recent(DOCUMENTS_KEPT)),
        functools.partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        functools.partial(AddValidationRules, limit_rules),
        # A repeated operation is validated once (validation was most of a cached read's cost). Documents
        # compare by structure, so a re-parsed one still hits. (ParserCache is not used: it raises
        # syntax errors outside Strawberry's handling, losing GRAPHQL_PARSE_FAILED.)
        ValidationCache,
    ]
    if not settings.introspection:
        extensions = [*extensions, DisableIntrospection]
    if tracer_provider is not None:
        # Spans for each operation, its parsing and validation, and each resolver (infra/tracing.py).
        extensions = [
            *extensions,
            functools.partial(GraphQLTracing, tracer_provider=tracer_provider),
        ]
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        # Without introspection, "did you mean …?" hints would still reveal the schema.
        config=StrawberryConfig(
            disable_field_suggestions=not settings.introspection,
            scalar_map={Decimal: DECIMAL},
        ),
    )
