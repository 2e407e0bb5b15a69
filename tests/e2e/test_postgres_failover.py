"""A real PostgreSQL failover under load: a primary and a synchronous streaming standby (local
PostgreSQL 15 clusters on free ports), the service connecting with a multi-host DATABASE_URL and
`target_session_attrs=read-write`, a client creating orders with an Idempotency-Key and retrying on
503 and connection errors. The primary's processes are SIGKILLed and never come back; the test then
promotes the standby, the one step Patroni takes in a deployment (docs/ha.md).

Then: no answer was a 500, every order the client saw created exists once on the new primary and is
processed once, and no process restarted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.test_faults import _processed_once
from tests.e2e.test_redis_failover import PASSWORD, Client
from tests.support.databases import run_alembic
from tests.support.polling import until
from tests.support.processes import Processes, free_port

logger = logging.getLogger(__name__)

BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "orders_ha"

pytestmark = pytest.mark.skipif(
    not (BIN / "pg_ctl").exists() or shutil.which("runuser") is None or os.geteuid() != 0,
    reason="needs PostgreSQL 15's server binaries and root (to run them as the postgres user)",
)


async def _as_postgres(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "runuser",
        "-u",
        "postgres",
        "--",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, (argv, out.decode())


@dataclass
class Pair:
    root: Path
    primary_port: int
    standby_port: int

    @property
    def primary(self) -> Path:
        return self.root / "primary"

    @property
    def standby(self) -> Path:
        return self.root / "standby"

    def url(self) -> str:
        return (
            f"postgresql+asyncpg://postgres@/{DATABASE}?host=127.0.0.1:{self.primary_port}"
            f"&host=127.0.0.1:{self.standby_port}&target_session_attrs=read-write"
        )

    def dsn(self, port: int, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    async def start(self, data: Path, port: int, *settings: str) -> None:
        options = " ".join(
            (f"-p {port}", f"-k {self.root}", "-c listen_addresses=127.0.0.1", *settings)
        )
        log = self.root / f"{data.name}.log"
        await _as_postgres(
            str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"
        )

    def kill_primary(self) -> None:
        """SIGKILL the primary's postmaster and every process it started: the node is gone."""
        postmaster = int((self.primary / "postmaster.pid").read_text().split()[0])
        children = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _parent(int(entry.name)) == postmaster
        ]
        for pid in (postmaster, *children):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    async def stop(self) -> None:
        for data in (self.primary, self.standby):
            if (data / "postmaster.pid").exists():
                process = await asyncio.create_subprocess_exec(
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "stop",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                await process.wait()


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


@asynccontextmanager
async def _primary_and_standby() -> AsyncIterator[Pair]:
    # Not under pytest's tmp_path: its parents are root's alone, and the servers run as postgres.
    root = Path(tempfile.mkdtemp(prefix="orders-pg-ha-"))
    shutil.chown(root, "postgres", "postgres")
    pair = Pair(root, free_port(), free_port())
    try:
        await _as_postgres(
            str(BIN / "initdb"), "-D", str(pair.primary), "-U", "postgres", "--auth=trust"
        )
        # Synchronous: a commit is acknowledged once the standby has it, so the kill loses no order.
        await pair.start(
            pair.primary,
            pair.primary_port,
            "-c wal_level=replica",
            "-c synchronous_standby_names=*",
            "-c fsync=off",
        )
        await _as_postgres(
            str(BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(pair.primary_port),
            "-U",
            "postgres",
            "-D",
            str(pair.standby),
            "-R",
            "-X",
            "stream",
        )
        await pair.start(pair.standby, pair.standby_port, "-c fsync=off")
        admin = await asyncpg.connect(pair.dsn(pair.primary_port, "postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await admin.close()
        await run_alembic(pair.url(), "upgrade", "head")
        yield pair
    finally:
        await pair.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_killing_the_postgresql_primary_under_load_loses_no_order_and_answers_no_500(
    processes: Processes,
) -> None:
    async with _primary_and_standby() as pair:
        url = pair.url()
        api, base_url = processes.api(DATABASE_URL=url)
        consumer = processes.consumer(DATABASE_URL=url)
        worker = processes.worker(DATABASE_URL=url)
        await processes.ready(api, consumer, worker)

        async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
            email = f"ha-{uuid.uuid4().hex[:8]}@example.com"
            registered = await http.post("/register/", json={"email": email, "password": PASSWORD})
            assert registered.status_code == 201, registered.text
            token = await http.post("/token", data={"username": email, "password": PASSWORD})
        client = Client(base_url, {"Authorization": f"Bearer {token.json()['access_token']}"})
        stop = asyncio.Event()
        load = asyncio.create_task(client.run(stop))

        async def created(count: int) -> bool:
            return len(client.created) >= count

        try:
            await until(lambda: created(10), within=60, what="10 orders")
            pair.kill_primary()  # never restarted
            killed_at = time.monotonic()
            # What Patroni does once its leader key expires: promote the standby.
            await _as_postgres(str(BIN / "pg_ctl"), "-D", str(pair.standby), "-w", "promote")
            promoted_after = time.monotonic() - killed_at
            at_promotion = len(client.created)
            await until(lambda: created(at_promotion + 10), within=60, what="10 more orders")
        finally:
            stop.set()
            await load

        assert 500 not in client.statuses
        assert len(set(client.created)) == len(client.created)
        await _processed_once([worker], client.created, within=120)
        new_primary = await asyncpg.connect(pair.dsn(pair.standby_port))
        try:
            stored = await new_primary.fetchval(
                "SELECT count(*) FROM orders WHERE id = ANY($1::uuid[])",
                [uuid.UUID(order_id) for order_id in client.created],
            )
        finally:
            await new_primary.close()
        assert stored == len(client.created)
        for process in (api, consumer, worker):
            assert process.popen.poll() is None
        after = [at for at in client.created_at if at > killed_at]
        logger.info(
            "postgresql failover: %d orders created, %d retried (%d answered 503), no 500; "
            "standby promoted %.1fs after the kill; the API created orders again %.1fs after it",
            len(client.created),
            client.retried,
            client.statuses.count(503),
            promoted_after,
            (after[0] - killed_at) if after else float("nan"),
        )
