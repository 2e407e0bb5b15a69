"""The order search's SQL: one statement per page, one for the count.

Each of the search's common shapes is an index range scan in the sort order, stopped after the page
(docs/staff.md lists the plans): `ix_orders_created_at_id` (no filter, a time range),
`ix_orders_status_created_at_id` (one status, with or without a time range, and its count, an
index-only scan), `ix_orders_user_id_created_at_id` (one user), `ix_orders_total_price_id` (a
total range sorted by total). A single status is compared with `=` so the status index returns rows
already in order; several statuses use `= ANY`.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, any_, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY

from domain.orders.models import Order
from domain.orders.records import OrderRecord, order_record
from domain.orders.search import OrderSort, Position, Scope
from infra.db import Statements

_ORDERS = cast(Table, Order.__table__)
_COLUMNS = _ORDERS.c


def _conditions(scope: Scope) -> list[ColumnElement[bool]]:
    wanted = scope.filter
    conditions: list[ColumnElement[bool]] = []
    if wanted.status:
        statuses = sorted(set(wanted.status))
        if len(statuses) == 1:
            conditions.append(_COLUMNS.status == statuses[0])
        else:
            conditions.append(
                _COLUMNS.status == any_(literal(statuses, ARRAY(_COLUMNS.status.type)))
            )
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


def count_statement(*, scope: Scope) -> Select[Any]:
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
