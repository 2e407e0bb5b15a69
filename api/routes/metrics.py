"""Prometheus metrics of this API process (not in the OpenAPI, never rate limited)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from api.deps import AppResources
from infra.metrics import OUTBOX_BACKLOG

logger = logging.getLogger(__name__)
router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(resources: AppResources) -> Response:
    # The backlog is read at scrape time: one cheap count over an index of pending rows. Without
    # PostgreSQL it is unknown (NaN), and the rest is still worth scraping.
    try:
        async with resources.unit_of_work(read_only=True) as uow:
            OUTBOX_BACKLOG.set(await uow.outbox.count_pending())
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.debug("metrics: outbox backlog unknown: %r", exc)
        OUTBOX_BACKLOG.set(float("nan"))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
