"""Shared fixtures: a real PostgreSQL database for the run, the app over ASGI, small factories."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.settings import ApiProcessSettings
from edge.resources import Resources
from infra.settings import AuthSettings, DatabaseSettings, RateLimitSettings, RedisSettings
from relay.settings import OutboxSettings
from tests.support.app import running_app
from tests.support.databases import create_database, drop_database, run_alembic
from tests.support.keys import write_key_pair
from tests.support.staff import login, orders_admin

# As the app reads it: the environment, else `.env` (where `make test`'s setup writes the role it
# made), else the default. Each run creates its own databases beside it.
BASE_DATABASE_URL = DatabaseSettings(_env_file=Path(__file__).parents[1] / ".env").url
BASE_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    write_key_pair(directory)
    return directory


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    url = await create_database(BASE_DATABASE_URL, "orders_test")
    await run_alembic(url, "upgrade", "head")
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def redis_prefix() -> AsyncIterator[str]:
    """This run's Redis key prefix; its keys are deleted at the end."""
    prefix = f"orders-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = Redis.from_url(BASE_REDIS_URL)
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        await client.delete(key)
    await client.aclose()


@pytest.fixture(scope="session")
def settings(database_url: str, key_dir: Path, redis_prefix: str) -> ApiProcessSettings:
    """ApiProcessSettings of the app under test. Rate limits are off here; their own tests switch them on."""
    return ApiProcessSettings(
        database=DatabaseSettings(url=database_url),
        redis=RedisSettings(url=BASE_REDIS_URL, key_prefix=redis_prefix),
        auth=AuthSettings(
            jwt_private_key_path=key_dir / "jwt-private.pem",
            jwt_public_key_path=key_dir / "jwt-public.pem",
        ),
        rate_limit=RateLimitSettings(enabled=False),
        # In-process apps publish nothing; the pipeline tests run the relay in real processes.
        outbox=OutboxSettings(relay_enabled=False),
    )


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(BASE_REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def clean_db(db_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Tables emptied after the test (the app commits for real, so a rollback can't isolate)."""
    yield db_engine
    async with db_engine.begin() as connection:
        await connection.execute(
            text(
                "TRUNCATE users, orders, outbox_events, processed_events, webhook_endpoints,"
                " webhook_order_cursors RESTART IDENTITY CASCADE"
            )
        )


@pytest.fixture
async def app_and_client(
    settings: ApiProcessSettings, clean_db: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    async with running_app(settings) as running:
        yield running


@pytest.fixture
def client(app_and_client: tuple[httpx.AsyncClient, Resources]) -> httpx.AsyncClient:
    return app_and_client[0]


@pytest.fixture
def app_state(app_and_client: tuple[httpx.AsyncClient, Resources]) -> Resources:
    return app_and_client[1]


class UserFactory:
    """Registers users through the API and logs them in."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def create(self, email: str | None = None, password: str = "s3cret-password") -> ApiUser:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        registered = await self._client.post(
            "/register/", json={"email": email, "password": password}
        )
        assert registered.status_code == 201, registered.text
        token = await self._client.post("/token", data={"username": email, "password": password})
        assert token.status_code == 200, token.text
        return ApiUser(
            id=registered.json()["id"],
            email=email,
            password=password,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )


@dataclass(frozen=True)
class ApiUser:
    id: int
    email: str
    password: str
    headers: dict[str, str]


@pytest.fixture
def users(client: httpx.AsyncClient) -> UserFactory:
    return UserFactory(client)


def order_body(*prices_and_quantities: tuple[str, int]) -> dict[str, object]:
    items = [
        {"product_id": f"sku-{n}", "name": f"Item {n}", "quantity": quantity, "price": price}
        for n, (price, quantity) in enumerate(prices_and_quantities or (("5.50", 2), ("6.00", 1)))
    ]
    return {"items": items}


class StaffFactory:
    """Registers users through the API, makes them staff with `orders-admin grant-staff`, and logs
    them in again (a token issued before the grant carries no `orders:manage`)."""

    def __init__(self, client: httpx.AsyncClient, users: UserFactory, database_url: str) -> None:
        self._client = client
        self._users = users
        self._database_url = database_url

    async def create(self, email: str | None = None) -> ApiUser:
        user = await self._users.create(email)
        status, _, err = await orders_admin(self._database_url, "grant-staff", user.email)
        assert status == 0, err
        headers = await login(self._client, user.email, user.password)
        return ApiUser(id=user.id, email=user.email, password=user.password, headers=headers)


@pytest.fixture
def staff(client: httpx.AsyncClient, users: UserFactory, database_url: str) -> StaffFactory:
    return StaffFactory(client, users, database_url)
