"""Health probes: liveness (the process answers) and readiness (it can serve requests)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from infra.health import Readiness

router = APIRouter(prefix="/health", tags=["health"])


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/live", operation_id="getLiveness")
async def live() -> Health:
    """The process is up and serving (no dependency is checked)."""
    return Health(status="ok")


@router.get(
    "/ready",
    operation_id="getReadiness",
    responses={
        503: {"model": Health, "description": "PostgreSQL is unreachable: nothing can be served."}
    },
)
async def ready(request: Request, response: Response) -> Health:
    """Ready while PostgreSQL answers (1 s timeout). Redis or RabbitMQ down leaves the API serving
    (from PostgreSQL, events kept in the outbox): `"status": "degraded"` with 200, and `checks` names
    what is down. The answer is reused for a second."""
    readiness: Readiness = request.app.state.readiness
    report = await readiness.report()
    if not report.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status=report.status, checks=report.checks)
