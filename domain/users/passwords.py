"""Argon2id password hashing, off the event loop and bounded.

Parameters: OWASP's Argon2id profile m=19 MiB, t=2, p=1 (its cost per check is in
docs/performance.md). Hashing runs in a small dedicated thread pool (argon2 releases the
GIL), so a burst of logins queues there instead of stalling the event loop or starving other requests.
The queue is bounded: past `max_waiting` checks waiting, `PasswordCheckQueueFull` at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from domain.users.errors import PasswordCheckQueueFull

ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST_KIB = 19 * 1024
ARGON2_PARALLELISM = 1

T = TypeVar("T")


class PasswordHasher:
    def __init__(self, *, max_concurrency: int = 1, max_waiting: int = 32) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=ARGON2_TIME_COST,
                    memory_cost=ARGON2_MEMORY_COST_KIB,
                    parallelism=ARGON2_PARALLELISM,
                ),
            )
        )
        self._executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="argon2")
        # Checks running or waiting; one event loop updates it, so no lock is needed.
        self._in_flight = 0
        self._max_in_flight = max_concurrency + max_waiting
        # Checked when the email is unknown, so both answers cost the same time.
        self._dummy_hash = self._hash.hash("not-a-real-password")

    async def hash(self, password: str) -> str:
        return await self._run(self._hash.hash, _utf8(password))

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """True when `password` matches; with no hash, spends the same time and returns False."""
        matches = await self._run(
            self._hash.verify, _utf8(password), password_hash or self._dummy_hash
        )
        return matches and password_hash is not None

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        if self._in_flight >= self._max_in_flight:
            raise PasswordCheckQueueFull
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._in_flight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _utf8(password: str) -> bytes:
    # JSON can carry a lone surrogate ("\ud800"), which strict UTF-8 refuses to encode; any text a
    # client sends must hash. Valid text encodes exactly as before, so stored hashes still match.
    return password.encode("utf-8", "surrogatepass")
