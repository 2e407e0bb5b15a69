"""Prometheus metrics of this API process (not in the OpenAPI, never rate limited)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import AppResources
from infra.metrics import OUTBOX_BACKLOG

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(resources: AppResources) -> Response:
    # The backlog is read at scrape time: one cheap count over an index of pending rows.
    async with resources.unit_of_work(read_only=True) as uow:
        OUTBOX_BACKLOG.set(await uow.outbox.count_pending())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
