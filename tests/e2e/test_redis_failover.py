"""A real Redis failover under load: a primary, a replica and three Sentinels (local redis-server
processes on free ports), the service's processes finding the primary through the Sentinels, a client
creating orders with an Idempotency-Key and retrying on 503 and connection errors. The primary is
killed with SIGKILL and never comes back; the Sentinels promote the replica.

Then: no answer was a 500, every order the client saw created exists once and is processed once
(tasks the dead primary took with it are published again by the reconciler), and nothing restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.test_faults import _processed_once
from tests.support.processes import Processes, free_port

logger = logging.getLogger(__name__)

MASTER = "orders"
PASSWORD = "pw-s3cret-9412"
BODY = {"items": [{"product_id": "sku-1", "quantity": 1, "price": "4.00"}]}


@dataclass
class RedisGroup:
    primary: asyncio.subprocess.Process
    primary_port: int
    replica_port: int
    sentinel_ports: list[int]
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    async def primary_address(self) -> tuple[str, int] | None:
        client = Redis(host="127.0.0.1", port=self.sentinel_ports[0], decode_responses=True)
        try:
            address: Any = await client.sentinel_get_master_addr_by_name(MASTER)
        finally:
            await client.aclose()
        return None if not address else (str(address[0]), int(address[1]))


async def _server(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "redis-server",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _until(check: object, *, within: float, what: str) -> None:
    async def poll() -> None:
        while True:
            with contextlib.suppress(RedisError, OSError):
                if await check():  # type: ignore[operator]
                    return
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(poll(), within)
    except TimeoutError:
        raise AssertionError(f"not within {within}s: {what}") from None


@contextlib.asynccontextmanager
async def _redis_group(tmp_path: Path) -> AsyncIterator[RedisGroup]:
    primary_port, replica_port = free_port(), free_port()
    # `--dir`: a replica's full sync writes dump.rdb even with saving off; keep it out of the checkout.
    memory = ("--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", str(tmp_path))
    primary = await _server("--port", str(primary_port), *memory)
    replica = await _server(
        "--port", str(replica_port), "--replicaof", "127.0.0.1", str(primary_port), *memory
    )
    group = RedisGroup(primary, primary_port, replica_port, [], [primary, replica])
    try:
        for _ in range(3):
            port = free_port()
            config = tmp_path / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 5000\n"
            )
            group.processes.append(await _server(str(config), "--sentinel"))
            group.sentinel_ports.append(port)

        async def formed() -> bool:
            client = Redis(host="127.0.0.1", port=group.sentinel_ports[0], decode_responses=True)
            try:
                master: Any = await client.sentinel_master(MASTER)
                replicas = await client.sentinel_slaves(MASTER)
            finally:
                await client.aclose()
            return int(master["num-other-sentinels"]) == 2 and len(replicas) == 1

        await _until(formed, within=30, what="3 Sentinels and the replica known")
        yield group
    finally:
        for process in group.processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


@dataclass
class Client:
    """Creates orders at a steady pace, each with its Idempotency-Key, retrying 503 and connection
    errors with the same key; records every answer."""

    base_url: str
    headers: dict[str, str]
    statuses: list[int] = field(default_factory=list)
    # When each order was answered 201 (monotonic), for the window the failover cost.
    created_at: list[float] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    retried: int = 0

    async def one(self, client: httpx.AsyncClient) -> None:
        key = uuid.uuid4().hex
        for _ in range(60):
            try:
                answer = await client.post(
                    "/orders/", json=BODY, headers={**self.headers, "Idempotency-Key": key}
                )
            except httpx.TransportError:
                self.retried += 1
                await asyncio.sleep(0.5)
                continue
            self.statuses.append(answer.status_code)
            if answer.status_code == 503:
                self.retried += 1
                await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            assert answer.status_code in (200, 201), answer.text
            self.created.append(answer.json()["id"])
            self.created_at.append(time.monotonic())
            return
        raise AssertionError("an order never got through")

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=15) as client:
            while not stop.is_set():
                await self.one(client)
                await asyncio.sleep(0.1)


async def test_killing_the_redis_primary_under_load_loses_no_order_and_answers_no_500(
    processes: Processes, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with _redis_group(tmp_path) as group:
        through_sentinel = {
            "REDIS_SENTINELS": group.sentinels,
            "REDIS_SENTINEL_MASTER": MASTER,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            # Tasks the dead primary took with it come back this soon.
            "PROCESSING_DEADLINE_SECONDS": "8",
        }
        api, base_url = processes.api(**through_sentinel)
        consumer = processes.consumer(**through_sentinel)
        worker = processes.worker(**through_sentinel)
        await processes.ready(api, consumer, worker)

        async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
            email = f"ha-{uuid.uuid4().hex[:8]}@example.com"
            await http.post("/register/", json={"email": email, "password": PASSWORD})
            token = await http.post("/token", data={"username": email, "password": PASSWORD})
        client = Client(base_url, {"Authorization": f"Bearer {token.json()['access_token']}"})
        stop = asyncio.Event()
        load = asyncio.create_task(client.run(stop))
        try:
            await _until(lambda: _count_at_least(client, 10), within=60, what="10 orders")
            group.primary.send_signal(signal.SIGKILL)  # never restarted
            killed_at = time.monotonic()

            async def promoted() -> bool:
                return await group.primary_address() == ("127.0.0.1", group.replica_port)

            await _until(promoted, within=30, what="the replica promoted")
            promoted_after = time.monotonic() - killed_at
            created_at_promotion = len(client.created)
            await _until(
                lambda: _count_at_least(client, created_at_promotion + 10),
                within=60,
                what="10 more orders after the promotion",
            )
        finally:
            stop.set()
            await load

        assert 500 not in client.statuses
        assert len(set(client.created)) == len(client.created)
        await _processed_once([worker], client.created, within=120)
        async with db_engine.connect() as connection:
            stored = await connection.execute(
                text("SELECT count(*) FROM orders WHERE id = ANY(:ids)"),
                {"ids": [uuid.UUID(order_id) for order_id in client.created]},
            )
        assert stored.scalar_one() == len(client.created)
        for process in (api, consumer, worker):
            assert process.popen.poll() is None
        before = [at for at in client.created_at if at <= killed_at]
        after = [at for at in client.created_at if at > killed_at]
        logger.info(
            "redis failover: %d orders created, %d retried (%d answered 503), no 500; replica "
            "promoted %.1fs after the kill; longest pause between two orders across it %.1fs; "
            "%d task(s) published again by the reconciler",
            len(client.created),
            client.retried,
            client.statuses.count(503),
            promoted_after,
            (after[0] - before[-1]) if before and after else float("nan"),
            api.count("published again"),
        )


async def _count_at_least(client: Client, count: int) -> bool:
    return len(client.created) >= count
