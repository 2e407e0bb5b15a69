"""REST /webhooks/...: staff only, the exact fields, the delivery log and its retry, the refusals."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import ApiProcessSettings
from domain.uow import UnitOfWork
from domain.webhooks.fan_out import PublishedEvent, fan_out
from edge.resources import Resources
from infra.db import create_session_factory
from infra.settings import WebhookSettings
from tests.conftest import ApiUser, StaffFactory, UserFactory, order_body
from tests.support.app import running_app

# Nothing listens there, and no dispatcher runs in these tests: nothing is ever sent.
LOCAL_URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
async def local_client(
    settings: ApiProcessSettings, clean_db: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with WEBHOOK_ALLOW_PRIVATE_TARGETS=true, so loopback URLs are accepted."""
    allowing = settings.model_copy(update={"webhooks": WebhookSettings(allow_private_targets=True)})
    async with running_app(allowing) as (client, _resources):
        yield client


@pytest.fixture
async def staff_user(local_client: httpx.AsyncClient, database_url: str) -> ApiUser:
    return await StaffFactory(local_client, UserFactory(local_client), database_url).create()


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> httpx.Response:
    return await client.post(
        "/webhooks/",
        json={"url": LOCAL_URL, "events": ["order.created"], **body},
        headers=headers,
    )


async def test_staff_create_an_endpoint_and_see_its_secret_once(
    local_client: httpx.AsyncClient, staff_user: ApiUser
) -> None:
    response = await create(
        local_client,
        staff_user.headers,
        events=["order.created", "order.status_changed", "order.created"],
        description="warehouse",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "url",
        "events",
        "description",
        "enabled",
        "disabled_reason",
        "created_at",
        "secret",
    }
    assert body["events"] == ["order.created", "order.status_changed"]
    assert body["enabled"] is True
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32

    listed = (await local_client.get("/webhooks/", headers=staff_user.headers)).json()
    assert [webhook["id"] for webhook in listed] == [body["id"]]
    one = (await local_client.get(f"/webhooks/{body['id']}/", headers=staff_user.headers)).json()
    assert "secret" not in one
    assert "secret" not in listed[0]


async def test_customers_are_forbidden_and_strangers_unauthenticated(
    local_client: httpx.AsyncClient, staff_user: ApiUser
) -> None:
    customer = await UserFactory(local_client).create()
    webhook = (await create(local_client, staff_user.headers)).json()
    for method, path in (
        ("POST", "/webhooks/"),
        ("GET", "/webhooks/"),
        ("GET", f"/webhooks/{webhook['id']}/"),
        ("PATCH", f"/webhooks/{webhook['id']}/"),
        ("DELETE", f"/webhooks/{webhook['id']}/"),
        ("POST", f"/webhooks/{webhook['id']}/rotate-secret/"),
        ("GET", f"/webhooks/{webhook['id']}/deliveries/"),
        ("POST", f"/webhooks/{webhook['id']}/deliveries/msg_x/retry/"),
    ):
        json = {"url": LOCAL_URL, "events": ["order.created"]} if method != "GET" else None
        forbidden = await local_client.request(method, path, json=json, headers=customer.headers)
        assert forbidden.status_code == 403, (method, path, forbidden.text)
        anonymous = await local_client.request(method, path, json=json)
        assert anonymous.status_code == 401, (method, path)
    # Nothing changed.
    still = await local_client.get(f"/webhooks/{webhook['id']}/", headers=staff_user.headers)
    assert still.status_code == 200


async def test_update_rotate_and_delete(
    local_client: httpx.AsyncClient, staff_user: ApiUser
) -> None:
    webhook = (await create(local_client, staff_user.headers)).json()
    path = f"/webhooks/{webhook['id']}/"
    patched = await local_client.patch(
        path,
        json={"enabled": False, "events": ["order.processed"], "description": None},
        headers=staff_user.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False
    assert patched.json()["events"] == ["order.processed"]

    rotated = await local_client.post(f"{path}rotate-secret/", headers=staff_user.headers)
    assert rotated.status_code == 200
    assert set(rotated.json()) == {"secret"}
    assert rotated.json()["secret"] != webhook["secret"]

    deleted = await local_client.delete(path, headers=staff_user.headers)
    assert deleted.status_code == 204
    assert (await local_client.get(path, headers=staff_user.headers)).status_code == 404
    assert (await local_client.delete(path, headers=staff_user.headers)).status_code == 404


async def test_bad_input_is_422(local_client: httpx.AsyncClient, staff_user: ApiUser) -> None:
    for body in (
        {"url": LOCAL_URL, "events": []},
        {"url": LOCAL_URL, "events": ["order.deleted"]},
        {"url": "ftp://127.0.0.1/x", "events": ["order.created"]},
        {"url": "http://user:pw@127.0.0.1/x", "events": ["order.created"]},
        {"url": LOCAL_URL, "events": ["order.created"], "secret": "mine"},
    ):
        response = await local_client.post("/webhooks/", json=body, headers=staff_user.headers)
        assert response.status_code == 422, (body, response.text)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:8080/x", "loopback"),
        ("http://localhost/x", "loopback"),
        ("http://0.0.0.0/x", "unspecified"),
        ("http://[::1]/x", "loopback"),
        ("http://10.1.2.3/x", "private"),
        ("http://192.168.0.10/x", "private"),
        ("http://172.16.5.4/x", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/x", "metadata"),
        ("http://169.254.10.10/x", "link-local"),
        ("http://[fe80::1]/x", "link-local"),
        ("http://[fc00::1]/x", "unique-local"),
        ("http://224.0.0.1/x", "multicast"),
        ("http://[ff02::1]/x", "multicast"),
        ("http://240.0.0.1/x", "reserved"),
        ("http://100.64.0.1/x", "reserved"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
    ],
)
async def test_private_targets_are_refused_naming_the_rule(
    client: httpx.AsyncClient, staff: StaffFactory, url: str, rule: str
) -> None:
    """The app under test keeps WEBHOOK_ALLOW_PRIVATE_TARGETS off. Only name resolution of
    `localhost` happens (from /etc/hosts); no connection is ever made."""
    user = await staff.create()
    response = await client.post(
        "/webhooks/", json={"url": url, "events": ["order.created"]}, headers=user.headers
    )
    assert response.status_code == 422, response.text
    assert rule in response.text
    assert (await client.get("/webhooks/", headers=user.headers)).json() == []


async def test_deliveries_newest_first_by_status_with_pages_and_a_retry_of_a_failed_one(
    local_client: httpx.AsyncClient, staff_user: ApiUser, clean_db: AsyncEngine
) -> None:
    webhook = (
        await create(
            local_client, staff_user.headers, events=["order.created", "order.status_changed"]
        )
    ).json()
    customer = await UserFactory(local_client).create()
    order_ids: list[uuid.UUID] = []
    for _ in range(3):
        made = await local_client.post("/orders/", json=order_body(), headers=customer.headers)
        order_ids.append(uuid.UUID(made.json()["id"]))
    async with UnitOfWork(create_session_factory(clean_db)) as uow:
        for order_id in order_ids:  # one at a time: newest last
            await fan_out(
                uow=uow,
                events=[PublishedEvent(order_id, 1)],
                cursors_kept_for=timedelta(days=30),
            )
    async with clean_db.begin() as connection:
        await connection.execute(
            text("UPDATE webhook_deliveries SET status = 'failed' WHERE order_id = :id"),
            {"id": order_ids[0]},
        )
    path = f"/webhooks/{webhook['id']}/deliveries/"

    first = await local_client.get(path, params={"limit": 2}, headers=staff_user.headers)
    assert first.status_code == 200, first.text
    assert [uuid.UUID(d["order_id"]) for d in first.json()] == order_ids[:0:-1]
    delivery = first.json()[0]
    assert set(delivery) >= {
        "id",
        "event_type",
        "order_id",
        "status",
        "attempts",
        "next_attempt_at",
    }
    assert delivery["id"].startswith("msg_")
    assert delivery["event_type"] == "order.created"
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == []
    next_url = first.headers["Link"].split(">")[0].lstrip("<")
    second = await local_client.get(next_url, headers=staff_user.headers)
    assert [uuid.UUID(d["order_id"]) for d in second.json()] == order_ids[:1]
    assert "Link" not in second.headers

    failed = await local_client.get(path, params={"status": "failed"}, headers=staff_user.headers)
    [failed_one] = failed.json()
    assert failed_one["status"] == "failed"
    pending = await local_client.get(path, params={"status": "pending"}, headers=staff_user.headers)
    assert len(pending.json()) == 2

    retried = await local_client.post(
        f"{path}{failed_one['id']}/retry/", headers=staff_user.headers
    )
    assert retried.status_code == 202, retried.text
    assert retried.json()["id"] == failed_one["id"]
    assert retried.json()["status"] == "pending"
    again = await local_client.post(f"{path}{failed_one['id']}/retry/", headers=staff_user.headers)
    assert again.status_code == 409
    missing = await local_client.post(f"{path}msg_nope/retry/", headers=staff_user.headers)
    assert missing.status_code == 404
    bad = await local_client.get(path, params={"status": "lost"}, headers=staff_user.headers)
    assert bad.status_code == 422


async def test_an_endpoint_sees_only_events_after_it_was_created(
    local_client: httpx.AsyncClient,
    staff_user: ApiUser,
    clean_db: AsyncEngine,
    app_state: Resources,
) -> None:
    customer = await UserFactory(local_client).create()
    earlier = await local_client.post("/orders/", json=order_body(), headers=customer.headers)
    webhook = (await create(local_client, staff_user.headers)).json()
    async with UnitOfWork(create_session_factory(clean_db)) as uow:
        made = await fan_out(
            uow=uow,
            events=[PublishedEvent(uuid.UUID(earlier.json()["id"]), 1)],
            cursors_kept_for=timedelta(days=30),
        )
    assert made == 0
    log = await local_client.get(
        f"/webhooks/{webhook['id']}/deliveries/", headers=staff_user.headers
    )
    assert log.json() == []
