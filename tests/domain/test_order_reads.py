"""The orders' reads on a read-only unit of work (Core statements on an autocommit connection, no
session): real rows, read into records and written by edge/order_json.py exactly as `OrderOut`
writes the rows."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from domain.orders.models import Order
from domain.orders.schemas import ORDER_LIST, OrderOut
from edge.order_json import order_json, orders_json
from edge.resources import Resources
from tests.conftest import UserFactory
from tests.conftest import order_body as new_order


async def test_rows_read_back_are_written_as_the_model_writes_them(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources
) -> None:
    user = await users.create()
    bodies = [new_order(), new_order(("0.10", 3)), new_order(("99.99", 1), ("0.00", 5))]
    ids = []
    for body in bodies:
        body["items"][0]["name"] = None  # type: ignore[index]
        created = await client.post("/orders/", json=body, headers=user.headers)
        ids.append(uuid.UUID(created.json()["id"]))

    async with app_state.unit_of_work(read_only=True) as uow:
        one = await uow.orders.get_owned(order_id=ids[0], user_id=user.id)
        page = await uow.orders.list_for_user(user_id=user.id, limit=10, after=None)
    async with app_state.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(*Order.__table__.c)
                .where(Order.user_id == user.id)
                .order_by(Order.created_at.desc(), Order.id.desc())
            )
        ).all()

    assert one is not None
    assert order_json(one) == OrderOut.model_validate(rows[-1]).model_dump_json().encode()
    assert [order.id for order in page] == ids[::-1]
    assert orders_json(page) == ORDER_LIST.dump_json(
        ORDER_LIST.validate_python(rows, from_attributes=True)
    )


async def test_a_read_only_unit_returns_its_connection_to_the_pool(
    client: httpx.AsyncClient, users: UserFactory, app_state: Resources
) -> None:
    user = await users.create()
    pool = app_state.engine.pool
    checked_out = pool.checkedout()  # type: ignore[attr-defined]

    async with app_state.unit_of_work(read_only=True) as uow:
        await uow.orders.list_for_user(user_id=user.id, limit=1, after=None)
        await uow.orders.get_owned(order_id=uuid.uuid4(), user_id=user.id)
        assert pool.checkedout() == checked_out + 1  # type: ignore[attr-defined]

    assert pool.checkedout() == checked_out  # type: ignore[attr-defined]
