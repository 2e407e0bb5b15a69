"""Health probes: liveness (the process answers) and readiness (its dependencies answer)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from api.deps import AppResources
from infra.health import check_dependencies

router = APIRouter(prefix="/health", tags=["health"])


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/live")
async def live() -> Health:
    """The process is up and serving (no dependency is checked)."""
    return Health(status="ok")


@router.get(
    "/ready",
    responses={
        503: {"model": Health, "description": "A dependency is unreachable; `checks` says which."}
    },
)
async def ready(resources: AppResources, response: Response) -> Health:
    """PostgreSQL, Redis and RabbitMQ are reachable (each checked with a 1 s timeout)."""
    checks = await check_dependencies(
        engine=resources.engine, redis=resources.redis, rabbitmq_url=resources.settings.rabbitmq.url
    )
    healthy = all(result == "ok" for result in checks.values())
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if healthy else "unavailable", checks=checks)
