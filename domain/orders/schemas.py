"""Order shapes: what clients send, and the one representation every interface returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from domain.orders.status import OrderStatus

MAX_ITEMS = 100
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
CENT = Decimal("0.01")
# Numeric(10, 2): eight digits before the point, two after.
MAX_TOTAL = Decimal("99999999.99")


def _no_nul(value: str) -> str:
    # PostgreSQL text and JSON cannot hold U+0000; refuse it as bad input rather than fail later.
    if "\x00" in value:
        msg = "must not contain NUL characters"
        raise ValueError(msg)
    return value


Text = Annotated[str, AfterValidator(_no_nul)]

Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=10, decimal_places=2, examples=["17.00"]),
    # Money travels as a string with exactly two decimals: "17.00", never 17 or 17.0.
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
]


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


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: int
    items: list[OrderItem]
    total_price: Money
    status: OrderStatus
    created_at: datetime
    updated_at: datetime


class OrderListQuery(BaseModel):
    """Which page of a user's orders to list: `limit` orders after the opaque `cursor`."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=200)


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None
