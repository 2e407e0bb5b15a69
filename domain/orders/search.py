"""The order search: filters, sort, keyset pages and the cursor bound to its search.

Staff search every order; a customer searches their own (naming another `user_id` is
`SearchForbidden`). Pages are keyset pages on (the sort column, id): every order that existed when
the first page was read and still matches appears exactly once across the pages, whatever is
created meanwhile, and page 50 costs what page 1 costs. A cursor carries a fingerprint of the search
it came from (filters, sort, and whose orders): used with another, it is refused (`InvalidCursor`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from domain.orders.errors import InvalidCursor, SearchForbidden
from domain.orders.records import OrderRecord
from domain.orders.schemas import MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Money
from domain.orders.status import OrderStatus
from infra.tracing import annotate

if TYPE_CHECKING:
    # Only for annotations: the unit of work itself imports this module's repository.
    from domain.uow import UnitOfWork

SEARCH_PAGE_SIZE = 20
# users.id is a PostgreSQL integer.
MAX_USER_ID = 2**31 - 1


class OrderSort(StrEnum):
    """How search results are ordered; ties are broken by id in the same direction."""

    CREATED_AT_DESC = "-created_at"
    CREATED_AT_ASC = "created_at"
    TOTAL_PRICE_DESC = "-total_price"
    TOTAL_PRICE_ASC = "total_price"

    @property
    def column(self) -> str:
        return self.value.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


def _iso_8601(value: object) -> object:
    # pydantic would also take a number (or a string of digits) as a Unix time; the documented
    # format is ISO 8601 with a time zone, and only that is accepted.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            msg = "must be an ISO 8601 date and time with a time zone"
            raise ValueError(msg) from None
    if not isinstance(value, datetime):
        msg = "must be an ISO 8601 date and time with a time zone"
        raise ValueError(msg)
    return value


# A moment as the search takes it: ISO 8601, with a time zone.
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]


class OrderFilter(BaseModel):
    """Which orders match: every given condition holds (statuses: any of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: list[OrderStatus] | None = Field(default=None, min_length=1)
    user_id: int | None = Field(default=None, ge=1, le=MAX_USER_ID)
    created_from: Moment | None = Field(default=None, description="Inclusive.")
    created_to: Moment | None = Field(default=None, description="Exclusive.")
    min_total: Money | None = None
    max_total: Money | None = None

    @model_validator(mode="after")
    def _bounds_in_order(self) -> OrderFilter:
        if (
            self.created_from is not None
            and self.created_to is not None
            and self.created_to <= self.created_from
        ):
            msg = "created_to must be later than created_from"
            raise ValueError(msg)
        if (
            self.min_total is not None
            and self.max_total is not None
            and self.max_total < self.min_total
        ):
            msg = "max_total must not be below min_total"
            raise ValueError(msg)
        return self


class OrderSearch(BaseModel):
    """One search request: filters, sort, page size, where to resume, and whether to count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filter: OrderFilter = Field(default_factory=OrderFilter)
    sort: OrderSort = OrderSort.CREATED_AT_DESC
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = SEARCH_PAGE_SIZE
    cursor: Annotated[str, Field(max_length=MAX_CURSOR_LENGTH)] | None = None
    count: bool = False


@dataclass(frozen=True, slots=True)
class Scope:
    """The conditions a search runs with, once the caller's role has been applied: the filter, and
    the owner a customer is confined to."""

    filter: OrderFilter
    user_id: int | None


# Where a page starts: the last order's sort value and id.
Position = tuple[datetime | Decimal, uuid.UUID]


@dataclass(frozen=True, slots=True)
class SearchPage:
    orders: Sequence[OrderRecord]
    # For each order, the cursor of the page after it (GraphQL's edge cursors).
    cursors: Sequence[str]
    # Where the next page starts (None on the last page).
    next_cursor: str | None
    # Every match, counted when asked for (`count`).
    total: int | None


def _fingerprint(scope: Scope, sort: OrderSort) -> str:
    canonical = json.dumps(
        {
            "filter": scope.filter.model_dump(mode="json"),
            "user_id": scope.user_id,
            "sort": sort.value,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(position: Position, *, fingerprint: str) -> str:
    value, order_id = position
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    raw = json.dumps([fingerprint, text, str(order_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, fingerprint: str, sort: OrderSort) -> Position:
    """The position `cursor` names; `InvalidCursor` if it is not ours, or if it was made by a search
    with other filters or another sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, text, order_id_text = json.loads(raw)
        order_id = uuid.UUID(order_id_text)
        value: datetime | Decimal
        if sort.column == "created_at":
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                raise ValueError
        else:
            value = Decimal(text)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, InvalidOperation):
        raise InvalidCursor("Not a cursor this service made") from None
    if made_for != fingerprint:
        msg = "This cursor belongs to another search (other filters or another sort)"
        raise InvalidCursor(msg)
    return value, order_id


def scope_of(search: OrderSearch, *, requester_id: int, as_staff: bool) -> Scope:
    """Staff search everything (or one `user_id`'s orders); a customer only their own."""
    wanted = search.filter.user_id
    if as_staff:
        return Scope(filter=search.filter, user_id=wanted)
    if wanted is not None and wanted != requester_id:
        raise SearchForbidden
    return Scope(filter=search.filter, user_id=requester_id)


async def search_orders(
    *, uow: UnitOfWork, requester_id: int, as_staff: bool, search: OrderSearch
) -> SearchPage:
    """One page of the orders matching `search`, in its sort order, and their count if asked."""
    annotate(user_id=requester_id)
    scope = scope_of(search, requester_id=requester_id, as_staff=as_staff)
    fingerprint = _fingerprint(scope, search.sort)
    after = (
        decode_cursor(search.cursor, fingerprint=fingerprint, sort=search.sort)
        if search.cursor
        else None
    )
    found = await uow.order_search.page(
        scope=scope, sort=search.sort, limit=search.limit + 1, after=after
    )
    page = found[: search.limit]
    by_created = search.sort.column == "created_at"
    cursors = [
        encode_cursor(
            (order.created_at if by_created else order.total_price, order.id),
            fingerprint=fingerprint,
        )
        for order in page
    ]
    next_cursor = cursors[-1] if len(found) > search.limit else None
    total = await uow.order_search.count(scope=scope) if search.count else None
    return SearchPage(orders=page, cursors=cursors, next_cursor=next_cursor, total=total)


async def count_orders(
    *, uow: UnitOfWork, requester_id: int, as_staff: bool, search: OrderSearch
) -> int:
    """How many orders match `search` (GraphQL's `totalCount`, asked only when selected)."""
    scope = scope_of(search, requester_id=requester_id, as_staff=as_staff)
    return await uow.order_search.count(scope=scope)
