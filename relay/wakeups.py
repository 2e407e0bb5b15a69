"""Commit-time wake-ups of the outbox relay: a LISTEN connection on the channel the outbox trigger
(migration 2026_11_26_outbox) notifies on each insert; PostgreSQL delivers the NOTIFY on commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from infra.retry import pause

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox_events"


async def listen_for_commits(dsn: str, *, wake: asyncio.Event, stopping: asyncio.Event) -> None:
    """Hold a LISTEN connection until `stopping`; on every NOTIFY (and on every reconnection, for
    whatever was committed while nobody listened) set `wake`."""
    while not stopping.is_set():
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(dsn, timeout=5)
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
            await connection.add_listener(NOTIFY_CHANNEL, lambda *_args: wake.set())
            wake.set()
            stop = asyncio.create_task(stopping.wait())
            dropped = asyncio.create_task(lost.wait())
            await asyncio.wait({stop, dropped}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            dropped.cancel()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            logger.debug("outbox: LISTEN connection unavailable: %r", exc)
            await pause(1.0, stopping)
        finally:
            if connection is not None and not connection.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 2)
