"""The worker's retention schedule: `domain.retention.purge` at start, then every
RETENTION_INTERVAL_MINUTES, in the worker's event loop beside the task listener.

A loop of the worker's own rather than taskiq's scheduler: that one is a separate process to run
(exactly one of it), with a schedule source to keep; here every worker tries, and the purge's
advisory lock lets one at a time do the work.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from domain.retention import RetentionAges, describe, purge
from domain.uow import UnitOfWork
from infra.db import create_engine, create_session_factory, utcnow
from infra.metrics import RETENTION_REMOVED
from infra.retry import Outage, pause
from infra.settings import Settings

logger = logging.getLogger(__name__)

# A batch delete may take longer than a request's statement is allowed (DATABASE_TIMEOUT_SECONDS).
PURGE_TIMEOUT_SECONDS = 60.0


async def purge_on_schedule(settings: Settings, stopping: asyncio.Event) -> None:
    database = settings.database.model_copy(
        update={"pool_size": 1, "timeout_seconds": PURGE_TIMEOUT_SECONDS}
    )
    engine = create_engine(database)
    sessions = create_session_factory(engine)
    ages = RetentionAges.from_settings(settings.retention)
    interval = settings.retention.retention_interval_minutes * 60
    outage = Outage(logger, failing="retention: purge failed", recovered="retention: purge done")
    try:
        while not stopping.is_set():
            try:
                removed = await purge(
                    new_unit_of_work=lambda: UnitOfWork(sessions), ages=ages, now=utcnow()
                )
            except (SQLAlchemyError, OSError) as exc:
                await pause(outage.failed(exc), stopping)
                continue
            outage.recovered()
            for kind, count in removed.items():
                RETENTION_REMOVED.labels(kind).inc(count)
            if any(removed.values()):
                logger.info("retention: removed %s", describe(removed))
            await pause(interval, stopping)
    finally:
        await engine.dispose()
