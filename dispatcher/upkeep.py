"""The dispatcher's upkeep: the pending and disabled gauges, and retention of the delivery log."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.uow import UnitOfWork
from domain.webhooks import deliveries
from infra.metrics import WEBHOOK_DISABLED, WEBHOOK_PENDING
from infra.retry import pause
from infra.settings import WebhookSettings

logger = logging.getLogger("webhooks")

GAUGES_EVERY_SECONDS = 10.0
PURGE_EVERY_SECONDS = 600.0
PURGE_BATCH = 5000


async def run_upkeep(
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: WebhookSettings,
    stopping: asyncio.Event,
    database_errors: tuple[type[BaseException], ...],
) -> None:
    last_purge = 0.0
    while not stopping.is_set():
        try:
            async with UnitOfWork(sessions) as uow:
                WEBHOOK_PENDING.set(await uow.webhook_deliveries.count_pending())
                WEBHOOK_DISABLED.set(await uow.webhooks.count_disabled())
            if time.monotonic() - last_purge >= PURGE_EVERY_SECONDS:
                last_purge = time.monotonic()
                await purge(sessions=sessions, settings=settings)
        except database_errors:
            logger.debug("webhooks: upkeep failed", exc_info=True)
        await pause(GAUGES_EVERY_SECONDS, stopping)


async def purge(*, sessions: async_sessionmaker[AsyncSession], settings: WebhookSettings) -> int:
    """Succeeded deliveries past WEBHOOK_LOG_RETENTION_DAYS, deleted in batches."""
    total = 0
    while True:
        async with UnitOfWork(sessions) as uow:
            purged = await deliveries.purge_succeeded(uow=uow, settings=settings, limit=PURGE_BATCH)
        total += purged
        if purged < PURGE_BATCH:
            break
    if total:
        logger.info("webhooks: purged %d succeeded delivery(ies)", total)
    return total
