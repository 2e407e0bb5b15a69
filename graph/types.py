"""GraphQL object and input types: shapes only, built from and into the domain's own schemas.

Inputs become the very pydantic models the REST routes validate (`OrderCreate`, `UserCreate`), so a
rule such as "at least one item" or "price with two decimals" is checked by one piece of code.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from domain.orders import records
from domain.orders import schemas as orders
from domain.orders import service as order_service
from domain.orders.status import OrderEventKind as DomainOrderEventKind
from domain.orders.status import OrderStatus as DomainOrderStatus
from domain.users import schemas as users
from domain.users.roles import Role as DomainRole
from edge.order_cache import read_order
from graph.context import GraphContext

OrderStatus = strawberry.enum(
    DomainOrderStatus,
    name="OrderStatus",
    description="PENDING → PAID | CANCELED; PAID → SHIPPED | CANCELED; SHIPPED and CANCELED are final.",
)

OrderEventKind = strawberry.enum(
    DomainOrderEventKind,
    name="OrderEventKind",
    description="CREATED with the order; STATUS_CHANGED at every status move; PROCESSED when the "
    "worker has processed the new order.",
)


Role = strawberry.enum(
    DomainRole,
    name="Role",
    description="CUSTOMER: everyone who registers; STAFF: the shop's operators (made so only by "
    "`orders-admin`).",
)


def _money_as_sent(value: object) -> object:
    # Input money is handed to the domain's model exactly as the client sent it (a string, or a
    # number as parsed from JSON), so REST's one rule judges it: Strawberry's own Decimal would
    # turn "1e2", "1_000", "+5" or full-width digits into numbers before that rule could refuse them.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        msg = "Decimal must be a string or a number"
        raise TypeError(msg)
    return value


DECIMAL = strawberry.scalar(
    name="Decimal",
    description='Money: a string of digits with at most two decimals ("17.00"), or a JSON number; '
    "always answered as a string with two decimals.",
    serialize=str,
    parse_value=_money_as_sent,
)


def _money(value: Decimal) -> Decimal:
    # Money always leaves with two decimals ("17.00"), as on the REST side.
    return value.quantize(orders.CENT)


@strawberry.type(description="An account.")
class User:
    id: int
    email: str
    role: Role  # type: ignore[valid-type]
    created_at: datetime

    @classmethod
    def from_domain(cls, user: users.UserProfile) -> User:
        return cls(id=user.id, email=user.email, role=user.role, created_at=user.created_at)


@strawberry.type(description="A bearer token: send it as `Authorization: Bearer <accessToken>`.")
class Token:
    access_token: str
    token_type: str
    expires_in: int = strawberry.field(description="Seconds until the token expires.")
    scope: str = strawberry.field(
        description="The token's OAuth2 scopes, space-separated: `orders`, and `orders:manage` "
        "for staff."
    )
    device_token: str = strawberry.field(
        description="Send it back as `deviceToken` with this account's next logins: it lets this "
        "client log in while others' failed guesses have the account rate-limited (its own "
        "failures still count, and five of them revoke it). Opaque; valid 90 days."
    )

    @classmethod
    def from_domain(cls, token: users.AccessToken) -> Token:
        return cls(
            access_token=token.access_token,
            token_type=token.token_type,
            expires_in=token.expires_in,
            scope=token.scope,
            device_token=token.device_token,
        )


@strawberry.type
class OrderItem:
    product_id: str
    name: str | None
    quantity: int
    price: Decimal

    @classmethod
    def from_domain(cls, item: records.OrderLine) -> OrderItem:
        return cls(
            product_id=item.product_id,
            name=item.name,
            quantity=item.quantity,
            price=_money(item.price),
        )


async def _owner(root: Order, info: strawberry.Info[GraphContext, None]) -> User:
    user = await info.context.loaders.user.load(root.user_id)
    if user is None:  # orders are deleted with their owner: this is never expected
        msg = f"owner {root.user_id} of order {root.id} not found"
        raise LookupError(msg)
    return User.from_domain(user)


async def _history(root: Order, info: strawberry.Info[GraphContext, None]) -> list[OrderEvent]:
    # Batched: a page of orders with their histories costs one query, not one per order.
    context = info.context
    user_id = context.require_user()
    events = await context.loaders.history.load((user_id, await context.acts_as_staff(), root.id))
    return [OrderEvent.from_domain(root.id, event) for event in events]


@strawberry.type(description="An order; only its owner (and staff) can read it.")
class Order:
    id: uuid.UUID
    user_id: int
    items: list[OrderItem]
    total_price: Decimal = strawberry.field(
        description="Σ quantity × price, computed by the server."
    )
    status: OrderStatus  # type: ignore[valid-type]
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(
        description="Bumped by every change; pass it as `expectedVersion` to change the order only "
        "if nobody else did meanwhile."
    )

    @classmethod
    def from_domain(cls, order: records.OrderRecord) -> Order:
        return cls(
            id=order.id,
            user_id=order.user_id,
            items=[OrderItem.from_domain(item) for item in order.items],
            total_price=_money(order.total_price),
            status=order.status,
            created_at=order.created_at,
            updated_at=order.updated_at,
            version=order.version,
        )

    owner: User = strawberry.field(
        resolver=_owner,
        description="The owner (the caller, unless staff read another user's order).",
    )
    history: list[OrderEvent] = strawberry.field(
        resolver=_history,
        description="Everything that happened to the order, oldest first.",
    )


async def _event_order(root: OrderEvent, info: strawberry.Info[GraphContext, None]) -> Order:
    context = info.context
    user_id = context.require_user()
    as_staff = await context.acts_as_staff()
    async with context.unit_of_work(read_only=True) as uow:
        read = await read_order(
            uow=uow,
            cache=context.resources.order_cache,
            user_id=user_id,
            order_id=root.order_id,
            as_staff=as_staff,
        )
    return Order.from_domain(read.order())


async def _event_actor(root: OrderEvent, info: strawberry.Info[GraphContext, None]) -> User | None:
    if root.actor_id is None:
        return None
    user = await info.context.loaders.user.load(root.actor_id)
    return User.from_domain(user) if user is not None else None


@strawberry.type(description="One change of an order: an entry of its history.")
class OrderEvent:
    order_id: uuid.UUID
    seq: int = strawberry.field(description="1, 2, 3 … per order, in the order things happened.")
    kind: OrderEventKind  # type: ignore[valid-type]
    status: OrderStatus = strawberry.field(  # type: ignore[valid-type]
        description="The status after this event."
    )
    previous_status: OrderStatus | None = strawberry.field(  # type: ignore[valid-type]
        description="The status before a STATUS_CHANGED; null otherwise."
    )
    at: datetime
    actor_role: Role | None = strawberry.field(  # type: ignore[valid-type]
        description="The role of whoever made the change (CREATED: the owner, as CUSTOMER); null "
        "for the system (PROCESSED) and for changes recorded before roles existed."
    )
    note: str | None = strawberry.field(description="The note the status change carried.")
    actor_id: strawberry.Private[int | None]

    @classmethod
    def from_domain(cls, order_id: uuid.UUID, event: orders.OrderEventOut) -> OrderEvent:
        actor = event.actor
        return cls(
            order_id=order_id,
            seq=event.seq,
            kind=event.kind,
            status=event.status,
            previous_status=event.previous_status,
            at=event.at,
            actor_role=actor.role if actor is not None else None,
            note=event.note,
            actor_id=actor.user_id if actor is not None else None,
        )

    actor: User | None = strawberry.field(
        resolver=_event_actor,
        description="Who made the change: null for the system, and for a customer reading a staff "
        "member's change (they see `actorRole` and `note`, not who).",
    )

    order: Order = strawberry.field(
        resolver=_event_order, description="The order as it is now (not as of this event)."
    )


@strawberry.type(description="One page of orders, newest first.")
class OrderPage:
    items: list[Order]
    next_cursor: str | None = strawberry.field(
        description="Pass it as `after` for the next page; null on the last page."
    )

    @classmethod
    def from_domain(cls, page: order_service.OrderPage) -> OrderPage:
        return cls(
            items=[Order.from_domain(order) for order in page.orders],
            next_cursor=page.next_cursor,
        )


@strawberry.input
class OrderItemInput:
    product_id: str
    name: str | None = strawberry.UNSET
    quantity: int
    price: Decimal

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "product_id": self.product_id,
            "quantity": self.quantity,
            "price": self.price,
        }
        # An omitted `name` stays omitted, exactly like a key missing from a REST body.
        if self.name is not strawberry.UNSET:
            body["name"] = self.name
        return body


@strawberry.input
class CreateOrderInput:
    items: list[OrderItemInput]
    total_price: Decimal | None = strawberry.field(
        default=strawberry.UNSET,
        description="Optional check: if sent, it must equal Σ quantity × price.",
    )

    def to_domain(self) -> orders.OrderCreate:
        """The REST body's model, validated the same way (`ValidationError` → BAD_USER_INPUT)."""
        body: dict[str, Any] = {"items": [item.to_body() for item in self.items]}
        if self.total_price is not strawberry.UNSET:
            body["total_price"] = self.total_price
        return orders.OrderCreate.model_validate(body)
