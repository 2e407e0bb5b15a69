"""The order search's SQL: one statement per page, one for the count.

Each of the search's common shapes is an index range scan in the sort order, stopped after the page
(docs/staff.md lists the plans): `ix_orders_created_at_id` (no filter, a time range),
`ix_orders_status_created_at_id` (one status, with or without a time range),
`ix_orders_user_id_created_at_id` (one user), `ix_orders_total_price_id` (a total range sorted by
total). A single status is compared with `=` so the status index returns rows already in order;
several statuses use `= ANY`.

The count of every order, or of some statuses, with no other condition (staff, no `user_id`) is the
sum of a few rows of `order_status_counts`, which triggers keep in each write's transaction: as
exact as counting the orders, whatever their number. Every other count counts the matching orders.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, any_, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY

from domain.orders.models import Order, OrderStatusCount
from domain.orders.records import OrderRecord, order_record
from domain.orders.search import OrderSort, Position, Scope
from domain.orders.status import OrderStatus
from infra.db import Statements

_ORDERS = cast(Table, Order.__table__)
_COLUMNS = _ORDERS.c
_COUNTS = cast(Table, OrderStatusCount.__table__)


def _statuses(statuses: list[OrderStatus]) -> list[OrderStatus]:
    return sorted(set(statuses))


def _by_status(
    column: ColumnElement[OrderStatus], statuses: list[OrderStatus]
) -> ColumnElement[bool]:
    if len(statuses) == 1:
        return column == statuses[0]
    return column == any_(literal(statuses, ARRAY(column.type)))


def _conditions(scope: Scope) -> list[ColumnElement[bool]]:
    wanted = scope.filter
    conditions: list[ColumnElement[bool]] = []
    if wanted.status:
        conditions.append(_by_status(_COLUMNS.status, _statuses(wanted.status)))
    if scope.user_id is not None:
        conditions.append(_COLUMNS.user_id == scope.user_id)
    if wanted.created_from is not None:
        conditions.append(_COLUMNS.created_at >= wanted.created_from)
    if wanted.created_to is not None:
        conditions.append(_COLUMNS.created_at < wanted.created_to)
    if wanted.min_total is not None:
        conditions.append(_COLUMNS.total_price >= wanted.min_total)
    if wanted.max_total is not None:
        conditions.append(_COLUMNS.total_price <= wanted.max_total)
    return conditions


def page_statement(
    *, scope: Scope, sort: OrderSort, limit: int, after: Position | None
) -> Select[Any]:
    """The page's SELECT (public for the benchmark's EXPLAIN)."""
    column = _COLUMNS[sort.column]
    conditions = _conditions(scope)
    if after is not None:
        # A row comparison: one index condition on (sort column, id), in either direction.
        position = tuple_(column, _COLUMNS.id)
        bound = tuple_(literal(after[0], column.type), literal(after[1], _COLUMNS.id.type))
        conditions.append(position < bound if sort.descending else position > bound)
    order = (
        (column.desc(), _COLUMNS.id.desc())
        if sort.descending
        else (column.asc(), _COLUMNS.id.asc())
    )
    return select(*_COLUMNS).where(*conditions).order_by(*order).limit(limit)


def counted_by_status(scope: Scope) -> bool:
    """Whether `order_status_counts` answers the count: every order, or only statuses, and nobody's
    in particular. Any other condition, including one added to the filter later, counts orders."""
    return scope.user_id is None and not scope.filter.model_dump(
        exclude={"status"}, exclude_none=True
    )


def count_statement(*, scope: Scope) -> Select[Any]:
    """The count's SELECT (public for the benchmark's EXPLAIN)."""
    if counted_by_status(scope):
        conditions = (
            [_by_status(_COUNTS.c.status, _statuses(scope.filter.status))]
            if scope.filter.status
            else []
        )
        return select(func.coalesce(func.sum(_COUNTS.c.count), 0)).where(*conditions)
    return select(func.count()).select_from(_ORDERS).where(*_conditions(scope))


class OrderSearchRepository:
    def __init__(self, session: Statements) -> None:
        self._session = session

    async def page(
        self, *, scope: Scope, sort: OrderSort, limit: int, after: Position | None
    ) -> list[OrderRecord]:
        statement = page_statement(scope=scope, sort=sort, limit=limit, after=after)
        return [order_record(row) for row in await self._session.execute(statement, {})]

    async def count(self, *, scope: Scope) -> int:
        result = await self._session.execute(count_statement(scope=scope), {})
        return int(result.scalar_one())
