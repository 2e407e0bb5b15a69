"""With ENVIRONMENT=production the developer tools are off unless asked for (introspection, "did you
mean" hints, GraphiQL), /metrics answers only METRICS_TOKEN (the API's, and the metrics port of the
processes without an HTTP server), and the API refuses to start on a Redis that asks for no password."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.abuse.conftest import Api, StartApi, _processes, codes, post_graphql
from tests.support.processes import free_port

METRICS_TOKEN = "metrics-5ecret-for-the-scraper"
INTROSPECTION = "{ __schema { types { name } } }"
# `ordres` for `orders`: graphql-core would suggest the right name.
MISSPELLED = "{ ordres { id } }"


def production_env(database_url: str, redis_url: str) -> dict[str, str]:
    """What production's settings guard accepts: passwords in every URL (PostgreSQL here trusts
    local connections, whatever the password; the relay, the one RabbitMQ client, is off)."""
    return {
        "ENVIRONMENT": "production",
        "DATABASE_URL": make_url(database_url)
        .set(password="trusted-anyway-9f2c")
        .render_as_string(hide_password=False),
        "REDIS_URL": redis_url,
        # Slow Redis on a busy test machine must not open the breaker mid-test.
        "REDIS_SOCKET_TIMEOUT_SECONDS": "5",
        "RABBITMQ_URL": "amqp://orders:unused-9f2c@127.0.0.1:5672/",
        "METRICS_TOKEN": METRICS_TOKEN,
    }


@pytest.fixture
async def production(start_api: StartApi, database_url: str, redis_with_password: str) -> Api:
    return await start_api(**production_env(database_url, redis_with_password))


async def test_production_turns_introspection_and_its_hints_off(production: Api) -> None:
    async with production.client() as client:
        introspection = await post_graphql(client, INTROSPECTION)
        misspelled = await post_graphql(client, MISSPELLED)

    assert set(codes(introspection)) == {"GRAPHQL_VALIDATION_FAILED"}, introspection.text
    assert "__Type" not in introspection.text
    assert codes(misspelled) == ["GRAPHQL_VALIDATION_FAILED"]
    message = misspelled.json()["errors"][0]["message"]
    assert "ordres" in message
    assert "Did you mean" not in message
    assert "orders" not in message.replace("ordres", "")


async def test_production_serves_no_playground(production: Api) -> None:
    async with production.client() as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        script = await client.get("/graphql/static/playground.js")

    assert "graphiql" not in page.text.lower()
    assert page.status_code in {400, 404}, page.text
    assert script.status_code == 404


async def test_explicit_true_turns_them_back_on_in_production(
    start_api: StartApi, database_url: str, redis_with_password: str
) -> None:
    api = await start_api(
        **production_env(database_url, redis_with_password),
        GRAPHQL_INTROSPECTION="true",
        GRAPHQL_PLAYGROUND="true",
    )
    async with api.client() as client:
        introspection = await post_graphql(client, INTROSPECTION)
        misspelled = await post_graphql(client, MISSPELLED)
        page = await client.get("/graphql", headers={"Accept": "text/html"})

    assert introspection.status_code == 200
    assert "errors" not in introspection.json(), introspection.text
    assert "Did you mean" in misspelled.json()["errors"][0]["message"]
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_production_metrics_answer_only_the_metrics_token(production: Api) -> None:
    async with production.client() as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        user_token = await client.get(
            "/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}
        )
        scraper = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

    assert [anonymous.status_code, wrong.status_code, user_token.status_code] == [401] * 3
    assert "http_requests" not in anonymous.text
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert scraper.status_code == 200
    assert "orders_http_requests_total" in scraper.text or "http_requests_total" in scraper.text


async def test_metrics_without_a_token_set_answer_nobody_in_production(
    start_api: StartApi, database_url: str, redis_with_password: str
) -> None:
    api = await start_api(
        **{**production_env(database_url, redis_with_password), "METRICS_TOKEN": ""}
    )
    async with api.client() as client:
        empty = await client.get("/metrics", headers={"Authorization": "Bearer"})
    assert empty.status_code == 401


async def test_the_workers_metrics_port_answers_only_the_metrics_token_in_production(
    database_url: str,
    key_dir: Path,
    redis_prefix: str,
    redis_with_password: str,
    clean_db: AsyncEngine,
) -> None:
    processes = _processes(database_url, key_dir, redis_prefix)
    port = free_port()
    worker = processes.worker(
        **production_env(database_url, redis_with_password), WORKER_METRICS_PORT=str(port)
    )
    try:
        await processes.ready(worker)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            anonymous = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
            scraper = await client.get(
                "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
            )
    finally:
        await processes.stop_all()

    assert [anonymous.status_code, wrong.status_code] == [401, 401]
    assert "orders_tasks_total" not in anonymous.text
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert scraper.status_code == 200
    assert "# TYPE orders_tasks_total counter" in scraper.text


async def test_production_refuses_to_start_on_a_redis_that_asks_no_password(
    database_url: str, key_dir: Path, redis_prefix: str, clean_db: AsyncEngine
) -> None:
    processes = _processes(database_url, key_dir, redis_prefix)
    # The run's Redis has no password: AUTH with one is accepted or ignored, and proves nothing.
    env = production_env(database_url, "redis://:looks-secure-9f2c@127.0.0.1:6379/0")
    api, _ = processes.api(**env)
    try:
        code = await api.wait_exit(within=30)
    finally:
        await processes.stop_all()

    assert code != 0
    assert api.count("Redis \\(REDIS_URL\\) accepts connections without a password") == 1
    assert api.count("Application startup complete") == 0
