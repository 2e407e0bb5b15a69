"""Order shapes: what clients send, and the one representation every interface returns."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from domain.orders.models import NOTE_MAX_LENGTH
from domain.orders.status import OrderEventKind, OrderStatus
from domain.users.roles import Role
from infra.text import is_storable

MAX_ITEMS = 100
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
CENT = Decimal("0.01")
# Numeric(10, 2): eight digits before the point, two after.
MAX_TOTAL = Decimal("99999999.99")


def _storable(value: str) -> str:
    # PostgreSQL text and JSON hold neither U+0000 nor lone surrogates; refuse them as bad input
    # rather than fail later.
    if not is_storable(value):
        msg = "must be valid Unicode text without NUL characters"
        raise ValueError(msg)
    return value


Text = Annotated[str, AfterValidator(_storable)]

# Money as a string: plain ASCII digits, at most two decimals. Python's Decimal would also take "+5",
# " 5", "1_000", "５" (full-width) or "1e3"; the documented format is the one accepted.
MONEY_STRING_PATTERN = r"^[0-9]{1,8}(\.[0-9]{1,2})?$"
_MONEY_STRING = re.compile(MONEY_STRING_PATTERN)


def _plain_money_string(value: object) -> object:
    if isinstance(value, str) and not _MONEY_STRING.fullmatch(value):
        msg = 'must be a number, or a string of digits with at most two decimals (e.g. "17.00")'
        raise ValueError(msg)
    return value


def _no_negative_zero(value: Decimal) -> Decimal:
    # -0.0 passes `ge=0` and would leave as "-0.00"; zero has one sign here.
    return value.copy_abs() if value.is_zero() else value


# Money travels as a string with exactly two decimals: "17.00", never 17 or 17.0.
_TWO_DECIMALS = PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json")

Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=10, decimal_places=2, examples=["17.00"]),
    BeforeValidator(_plain_money_string),
    AfterValidator(_no_negative_zero),
    # What the OpenAPI shows a client: the two forms accepted, with their bounds.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(MAX_TOTAL)},
                {"type": "string", "pattern": MONEY_STRING_PATTERN},
            ],
            "description": "At most two decimals, 0 to 99999999.99.",
            "examples": ["17.00"],
        },
        mode="validation",
    ),
    _TWO_DECIMALS,
]


# Visible ASCII without spaces ("!" to "~"), 1 to 255 characters: a UUID, a ULID or a hash fits,
# and an HTTP header carries it unchanged.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]+$"
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IdempotencyKeyText = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=IDEMPOTENCY_KEY_MAX_LENGTH, pattern=IDEMPOTENCY_KEY_PATTERN
    ),
]


class IdempotencyKeyArgument(BaseModel):
    """The key as a client sent it, checked (a `ValidationError` otherwise)."""

    idempotency_key: IdempotencyKeyText


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: Annotated[Text, StringConstraints(min_length=1, max_length=64)] = Field(
        examples=["sku-123"]
    )
    name: Annotated[Text, StringConstraints(max_length=200)] | None = Field(
        default=None, examples=["Blue mug"]
    )
    quantity: int = Field(ge=1, le=1_000_000, examples=[2])
    price: Money


class OrderCreate(BaseModel):
    """A new order. The server computes `total_price`; a client may send it as a check."""

    model_config = ConfigDict(extra="forbid")

    items: list[OrderItem] = Field(min_length=1, max_length=MAX_ITEMS)
    total_price: Money | None = Field(
        default=None, description="Optional: if sent, it must equal Σ quantity × price."
    )

    @property
    def computed_total(self) -> Decimal:
        return sum((item.price * item.quantity for item in self.items), Decimal(0)).quantize(CENT)

    @model_validator(mode="after")
    def _total_is_consistent(self) -> Self:
        total = self.computed_total
        if total > MAX_TOTAL:
            msg = f"order total {total} exceeds the maximum of {MAX_TOTAL}"
            raise ValueError(msg)
        if self.total_price is not None and self.total_price != total:
            msg = f"total_price {self.total_price:.2f} does not match the items' total {total:.2f}"
            raise ValueError(msg)
        return self


def _trimmed_note(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


# A note on a status change: 1–500 characters once surrounding whitespace is trimmed.
Note = Annotated[
    Text,
    BeforeValidator(_trimmed_note),
    StringConstraints(min_length=1, max_length=NOTE_MAX_LENGTH),
]


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus
    note: Note | None = Field(
        default=None,
        description="Why, for the order's history (1–500 characters after trimming).",
        examples=["paid by bank transfer"],
    )


# Money read back from storage: it passed `Money`'s rules on the way in, so reading it needs none
# of them (they were most of the time a page of orders took); it is written the same way.
StoredMoney = Annotated[
    Decimal,
    _TWO_DECIMALS,
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]{1,8}\.[0-9]{2}$", "examples": ["17.00"]},
        mode="serialization",
    ),
]


class OrderItemOut(BaseModel):
    """An item as stored: checked by `OrderItem` when the order was created."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    name: str | None
    quantity: int
    price: StoredMoney


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: int
    items: list[OrderItemOut]
    total_price: StoredMoney
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    # Not in the JSON (REST carries it as the ETag; the cached body is exactly the REST body).
    version: int = Field(exclude=True)


class EventActor(BaseModel):
    """Who made a change: their role then, and (for whoever may know it) who they are."""

    model_config = ConfigDict(frozen=True)

    user_id: int | None = Field(
        default=None,
        # Absent, not null, when withheld: a customer never learns which staff member acted.
        exclude_if=lambda user_id: user_id is None,
        description="The user who acted; absent from a customer's view of a staff action.",
    )
    role: Role


class OrderEventOut(BaseModel):
    """One entry of an order's history, as REST, Server-Sent Events and GraphQL give it."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    seq: int = Field(description="1, 2, 3 … per order, in the order things happened.")
    kind: OrderEventKind
    status: OrderStatus = Field(description="The status after this event.")
    previous_status: OrderStatus | None = Field(
        description="The status before a STATUS_CHANGED; null otherwise."
    )
    at: datetime = Field(description="When it happened (UTC).")
    actor: EventActor | None = Field(
        default=None,
        description="Who made the change (CREATED: the owner, as a customer); null for the system "
        "(PROCESSED) and for events recorded before roles existed.",
    )
    note: str | None = Field(default=None, description="The note the status change carried.")

    @model_validator(mode="before")
    @classmethod
    def _actor_from_columns(cls, data: Any) -> Any:
        """A history row (`order_events`: `actor_user_id`, `actor_role`) read into `actor`."""
        if isinstance(data, dict) or not hasattr(data, "actor_role"):
            return data
        role = data.actor_role
        return {
            "seq": data.seq,
            "kind": data.kind,
            "status": data.status,
            "previous_status": data.previous_status,
            "at": data.at,
            "note": data.note,
            "actor": None if role is None else {"user_id": data.actor_user_id, "role": role},
        }

    def seen_by_customer(self) -> OrderEventOut:
        """The event as a customer sees it: a staff action's role and note, not who acted."""
        actor = self.actor
        if actor is None or actor.role is not Role.STAFF or actor.user_id is None:
            return self
        return self.model_copy(update={"actor": EventActor(role=actor.role)})


class OrderChange(BaseModel):
    """An order event as published to every API process after its commit: whose order, and what."""

    model_config = ConfigDict(frozen=True)

    order_id: uuid.UUID
    user_id: int
    event: OrderEventOut

    def seen_by_customer(self) -> OrderChange:
        event = self.event.seen_by_customer()
        return self if event is self.event else self.model_copy(update={"event": event})


# Cursors this service makes are far shorter; a longer one is refused before it is decoded.
MAX_CURSOR_LENGTH = 200


class OrderListQuery(BaseModel):
    """Which page of a user's orders to list: `limit` orders after the opaque `cursor`."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR_LENGTH)


# A note checked on its own (GraphQL's `note` argument, the service's own check).
NOTE = TypeAdapter(Note)

# Lists of orders validated from rows, and written as JSON, in one call each.
ORDER_LIST = TypeAdapter(list[OrderOut])
ORDER_HISTORY = TypeAdapter(list[OrderEventOut])
