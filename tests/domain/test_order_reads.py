"""The orders' reads on a read-only unit of work (Core statements on an autocommit connection, no
session): real rows, written by domain/orders/bodies.py exactly as `OrderOut` writes them."""

from __future__ import annotations

import uuid

import httpx

from domain.orders.bodies import order_body, orders_body
from domain.orders.schemas import ORDER_LIST, OrderOut
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

    assert one is not None
    assert order_body(one) == OrderOut.model_validate(one).model_dump_json().encode()
    assert [row.id for row in page] == ids[::-1]
    assert orders_body(page) == ORDER_LIST.dump_json(
        ORDER_LIST.validate_python(page, from_attributes=True)
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
