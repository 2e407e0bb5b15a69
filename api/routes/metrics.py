"""Prometheus metrics of this API process (not in the OpenAPI, never rate limited)."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from api.problem_details import problem_response
from domain.users.errors import NOT_AUTHENTICATED
from edge.errors import ErrorCode
from edge.resources import Resources
from infra.metrics import OUTBOX_BACKLOG, metrics_allowed

logger = logging.getLogger(__name__)
router = APIRouter()

# Scrapes more frequent than this reuse the last reading: /metrics can never be used to load the
# database.
BACKLOG_MAX_AGE_SECONDS = 1.0


class OutboxBacklog:
    """The outbox backlog gauge, read at scrape time at most once a second (built by the lifespan)."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._lock = asyncio.Lock()
        self._read_at = -BACKLOG_MAX_AGE_SECONDS

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._read_at >= BACKLOG_MAX_AGE_SECONDS:
                OUTBOX_BACKLOG.set(await self._count())
                self._read_at = time.monotonic()

    async def _count(self) -> float:
        # One cheap count over an index of pending rows. Without PostgreSQL the backlog is unknown
        # (NaN), and the rest is still worth scraping.
        try:
            async with self._resources.unit_of_work(read_only=True) as uow:
                return await uow.outbox.count_pending()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            logger.debug("metrics: outbox backlog unknown: %r", exc)
            return float("nan")


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    if not metrics_allowed(request.headers.get("Authorization"), resources.settings.app):
        return problem_response(
            request.scope,
            code=ErrorCode.UNAUTHENTICATED,
            reason=NOT_AUTHENTICATED,
            detail="/metrics needs Authorization: Bearer <METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    backlog: OutboxBacklog = request.app.state.outbox_backlog
    await backlog.refresh()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
