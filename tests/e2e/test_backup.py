"""The backup drill: `make backup` of a database the service wrote to, `make restore FILE=…` into a
fresh database, and the service running against the restored one finds every order, history row
and user, and can log in and take new orders."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.e2e.test_faults import _processed_once
from tests.support.databases import ROOT, drop_database
from tests.support.pipeline import create_orders
from tests.support.processes import Processes

PASSWORD = "pw-s3cret-9412"


async def _run(*argv: str, database_url: str) -> str:
    """`python -m scripts.backup ARGV` (what `make backup` / `make restore` run) against a database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.backup",
        *argv,
        cwd=ROOT,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _rows(engine: AsyncEngine) -> dict[str, set[tuple[object, ...]]]:
    queries = {
        "users": "SELECT id, email, password_hash FROM users",
        "orders": "SELECT id, user_id, status::text, total_price, version FROM orders",
        "history": "SELECT order_id, seq, kind::text, status::text, at FROM order_events",
    }
    async with engine.connect() as connection:
        return {
            name: {tuple(row) for row in await connection.execute(text(sql))}
            for name, sql in queries.items()
        }


async def test_a_backup_restored_into_a_fresh_database_serves_every_order_and_user(
    processes: Processes, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    api, base_url = processes.api()
    consumer = processes.consumer()
    worker = processes.worker()
    await processes.ready(api, consumer, worker)
    orders = [order_id for order_id, _ in await create_orders(base_url, 3, password=PASSWORD)]
    await _processed_once([worker], orders, within=30)  # each has CREATED and PROCESSED history
    await processes.stop_all()
    source = await _rows(db_engine)
    assert len(source["orders"]) >= 3

    dump = tmp_path / "orders.dump"
    said = await _run("backup", "--file", str(dump), database_url=processes.env["DATABASE_URL"])
    assert said == f"backup written to {dump}\n"
    assert dump.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format

    fresh = (
        make_url(processes.env["DATABASE_URL"])
        .set(database=f"restored_{uuid.uuid4().hex[:10]}")
        .render_as_string(hide_password=False)
    )
    restored_engine = create_async_engine(fresh)
    try:
        await _run("restore", str(dump), database_url=fresh)
        assert await _rows(restored_engine) == source

        restored_api, restored_url = processes.api("restored-api", DATABASE_URL=fresh)
        await processes.ready(restored_api)
        async with httpx.AsyncClient(base_url=restored_url, timeout=15) as client:
            email = await _email_of(db_engine, orders[0])
            token = await client.post("/token", data={"username": email, "password": PASSWORD})
            assert token.status_code == 200, token.text
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            for order_id in orders:
                order = await client.get(f"/orders/{order_id}/", headers=headers)
                assert order.status_code == 200, order.text
                kinds = [
                    event["kind"]
                    for event in (
                        await client.get(f"/orders/{order_id}/history/", headers=headers)
                    ).json()
                ]
                assert kinds == ["CREATED", "PROCESSED"]
            another = await client.post(
                "/orders/",
                json={"items": [{"product_id": "sku-1", "quantity": 1, "price": "3.00"}]},
                headers=headers,
            )
            assert another.status_code == 201, another.text
    finally:
        await processes.stop_all()
        await restored_engine.dispose()
        await drop_database(fresh)


async def _email_of(engine: AsyncEngine, order_id: str) -> str:
    async with engine.connect() as connection:
        email = await connection.scalar(
            text("SELECT u.email FROM users u JOIN orders o ON o.user_id = u.id WHERE o.id = :id"),
            {"id": uuid.UUID(order_id)},
        )
    return str(email)
