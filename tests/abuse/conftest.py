"""The attacks of tests/abuse run against a real API process (uvicorn, as `make run` starts it) on
this run's PostgreSQL and Redis, with rate limits on, each API under a Redis key prefix of its own.

The process trusts X-Forwarded-For from the loopback proxy (`TRUSTED_PROXIES`), so a test can speak
from any client address, as clients behind a reverse proxy do.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ApiUser, UserFactory
from tests.support.pipeline import app_env
from tests.support.processes import ManagedProcess, Processes, free_port


@dataclass(frozen=True)
class Api:
    process: ManagedProcess
    base_url: str
    # REDIS_KEY_PREFIX of this process (each API process of a test has its own, unless the test
    # starts two of one deployment with the same).
    key_prefix: str = ""

    def client(self, address: str = "192.0.2.1") -> httpx.AsyncClient:
        """A client seen by the API as coming from `address`."""
        return httpx.AsyncClient(
            base_url=self.base_url, timeout=30, headers={"X-Forwarded-For": address}
        )

    async def user(self) -> ApiUser:
        async with self.client(f"198.51.100.{uuid.uuid4().int % 250}") as client:
            return await UserFactory(client).create()


StartApi = Callable[..., Awaitable[Api]]


def _processes(database_url: str, key_dir: Path, redis_prefix: str) -> Processes:
    return Processes(
        {
            **app_env(database_url=database_url, key_dir=key_dir, redis_prefix=redis_prefix),
            "OUTBOX_RELAY_ENABLED": "false",
            "RATE_LIMIT_ENABLED": "true",
            "TRUSTED_PROXIES": "127.0.0.1",
            "LOG_LEVEL": "INFO",
        }
    )


async def _start(processes: Processes, redis_prefix: str, **overrides: str) -> Api:
    prefix = overrides.pop("REDIS_KEY_PREFIX", f"{redis_prefix}{uuid.uuid4().hex[:6]}:")
    api, base_url = processes.api(REDIS_KEY_PREFIX=prefix, **overrides)
    await processes.ready(api)
    return Api(process=api, base_url=base_url, key_prefix=prefix)


@pytest.fixture
async def start_api(
    database_url: str, key_dir: Path, redis_prefix: str, clean_db: AsyncEngine
) -> AsyncIterator[StartApi]:
    """Starts an API process with the given environment overrides (e.g. RATE_LIMIT_DEFAULT="5/minute")."""
    processes = _processes(database_url, key_dir, redis_prefix)

    async def start(**overrides: str) -> Api:
        return await _start(processes, redis_prefix, **overrides)

    try:
        yield start
    finally:
        await processes.stop_all()


@pytest.fixture(scope="module")
async def shared_api(
    database_url: str, key_dir: Path, redis_prefix: str, db_engine: AsyncEngine
) -> AsyncIterator[Api]:
    """One API process with the default settings for a whole module of attacks."""
    processes = _processes(database_url, key_dir, redis_prefix)
    try:
        yield await _start(processes, redis_prefix, RATE_LIMIT_DEFAULT="10000/minute")
    finally:
        await processes.stop_all()
        async with db_engine.begin() as connection:
            await connection.execute(
                text(
                    "TRUNCATE users, orders, outbox_events, processed_events RESTART IDENTITY CASCADE"
                )
            )


async def post_graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return await client.post("/graphql", json=body, headers=headers)


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors") or []]


@pytest.fixture(scope="module")
async def redis_with_password() -> AsyncIterator[str]:
    """The URL of a Redis of this module's own that requires a password (the run's Redis has none):
    production's startup check refuses any other."""
    server = shutil.which("redis-server")
    assert server is not None, "redis-server is not installed (scripts/ensure-services.sh)"
    port, password = free_port(), uuid.uuid4().hex
    process = subprocess.Popen(  # noqa: ASYNC220 - started once per module, waited on below
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            client = Redis.from_url(url)
            try:
                if await client.ping():
                    break
            except (RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
            finally:
                await client.aclose()
        yield url
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if process.poll() is None:
            process.kill()
