from __future__ import annotations

import httpx

from api.settings import ApiProcessSettings
from infra.settings import RabbitMQSettings, RedisSettings
from tests.support.app import running_app


async def test_live_answers_without_touching_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_checks_every_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "redis": "ok", "rabbitmq": "ok"}


async def test_ready_is_503_and_names_the_dependencies_that_are_down(
    settings: ApiProcessSettings, clean_db: object
) -> None:
    broken = settings.model_copy(
        update={
            "redis": RedisSettings(url="redis://127.0.0.1:1/0"),
            "rabbitmq": RabbitMQSettings(url="amqp://guest:guest@127.0.0.1:1/"),
        }
    )
    async with running_app(broken) as (client, _):
        response = await client.get("/health/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgres"] == "ok"
    assert checks["redis"].startswith("unavailable")
    assert checks["rabbitmq"].startswith("unavailable")
