"""Webhooks over GraphQL: staff only, in parity with REST's /webhooks/ routes."""

from __future__ import annotations

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
from infra.db import create_session_factory
from infra.settings import WebhookSettings
from tests.conftest import ApiUser, StaffFactory, UserFactory, order_body
from tests.graph.conftest import graphql
from tests.support.app import running_app

# Nothing listens there, and no dispatcher runs in these tests: nothing is ever sent.
LOCAL_URL = "http://127.0.0.1:9/hooks"

CREATE = """
mutation Create($input: CreateWebhookInput!) {
  createWebhook(input: $input) {
    secret
    webhook { id url events description enabled disabledReason createdAt }
  }
}
"""
WEBHOOK = """
query One($id: UUID!, $status: WebhookDeliveryStatus, $first: Int, $after: String) {
  webhook(id: $id) {
    id url events enabled
    deliveries(status: $status, first: $first, after: $after) {
      nextCursor
      items { id eventType orderId status nextAttemptAt
              attempts { at responseStatus durationMs error } }
    }
  }
}
"""


@pytest.fixture
async def local_client(
    settings: ApiProcessSettings, clean_db: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    allowing = settings.model_copy(update={"webhooks": WebhookSettings(allow_private_targets=True)})
    async with running_app(allowing) as (client, _resources):
        yield client


@pytest.fixture
async def staff_user(local_client: httpx.AsyncClient, database_url: str) -> ApiUser:
    return await StaffFactory(local_client, UserFactory(local_client), database_url).create()


async def created(client: httpx.AsyncClient, headers: dict[str, str], **fields: object) -> dict:  # type: ignore[type-arg]
    answer = await graphql(
        client,
        CREATE,
        {"input": {"url": LOCAL_URL, "events": ["order.created"], **fields}},
        headers=headers,
    )
    result: dict = answer.ok()["createWebhook"]  # type: ignore[type-arg]
    return result


async def test_staff_manage_endpoints_as_over_rest(
    local_client: httpx.AsyncClient, staff_user: ApiUser
) -> None:
    made = await created(local_client, staff_user.headers, description="mail")
    assert made["secret"].startswith("whsec_")
    webhook = made["webhook"]
    assert webhook["events"] == ["order.created"]
    assert webhook["enabled"] is True

    rest = await local_client.get(f"/webhooks/{webhook['id']}/", headers=staff_user.headers)
    assert rest.json()["url"] == webhook["url"] == LOCAL_URL

    listed = await graphql(local_client, "{ webhooks { id } }", headers=staff_user.headers)
    assert listed.ok()["webhooks"] == [{"id": webhook["id"]}]

    updated = await graphql(
        local_client,
        """mutation($id: UUID!, $input: UpdateWebhookInput!) {
             updateWebhook(id: $id, input: $input) { enabled events description } }""",
        {"id": webhook["id"], "input": {"enabled": False, "events": ["order.processed"]}},
        headers=staff_user.headers,
    )
    assert updated.ok()["updateWebhook"] == {
        "enabled": False,
        "events": ["order.processed"],
        "description": "mail",
    }

    rotated = await graphql(
        local_client,
        "mutation($id: UUID!) { rotateWebhookSecret(id: $id) { secret } }",
        {"id": webhook["id"]},
        headers=staff_user.headers,
    )
    assert rotated.ok()["rotateWebhookSecret"]["secret"] != made["secret"]

    deleted = await graphql(
        local_client,
        "mutation($id: UUID!) { deleteWebhook(id: $id) }",
        {"id": webhook["id"]},
        headers=staff_user.headers,
    )
    assert deleted.ok()["deleteWebhook"] is True
    gone = await graphql(local_client, WEBHOOK, {"id": webhook["id"]}, headers=staff_user.headers)
    assert gone.codes == ["NOT_FOUND"]


async def test_customers_get_forbidden_and_strangers_unauthenticated(
    local_client: httpx.AsyncClient, staff_user: ApiUser
) -> None:
    customer = await UserFactory(local_client).create()
    webhook_id = (await created(local_client, staff_user.headers))["webhook"]["id"]
    operations = [
        ("{ webhooks { id } }", None),
        (WEBHOOK, {"id": webhook_id}),
        (CREATE, {"input": {"url": LOCAL_URL, "events": ["order.created"]}}),
        (
            "mutation($id: UUID!) { updateWebhook(id: $id, input: {enabled: false}) { id } }",
            {"id": webhook_id},
        ),
        ("mutation($id: UUID!) { deleteWebhook(id: $id) }", {"id": webhook_id}),
        ("mutation($id: UUID!) { rotateWebhookSecret(id: $id) { secret } }", {"id": webhook_id}),
        (
            'mutation($id: UUID!) { retryWebhookDelivery(webhookId: $id, deliveryId: "msg_x") '
            "{ id } }",
            {"id": webhook_id},
        ),
    ]
    for query, variables in operations:
        forbidden = await graphql(local_client, query, variables, headers=customer.headers)
        assert forbidden.codes == ["FORBIDDEN"], query
        anonymous = await graphql(local_client, query, variables)
        assert anonymous.codes == ["UNAUTHENTICATED"], query
    still = await graphql(local_client, "{ webhooks { id enabled } }", headers=staff_user.headers)
    assert still.ok()["webhooks"] == [{"id": webhook_id, "enabled": True}]


async def test_refusals_and_bad_input_are_bad_user_input(
    client: httpx.AsyncClient, staff: StaffFactory
) -> None:
    """The app under test keeps WEBHOOK_ALLOW_PRIVATE_TARGETS off; no connection is made."""
    member = await staff.create()
    for url, events in (
        ("http://169.254.169.254/latest/meta-data/", ["order.created"]),
        ("http://[::1]:8080/", ["order.created"]),
        ("http://127.0.0.1/x", ["order.created"]),
        ("https://10.0.0.5/x", ["order.created"]),
        ("not a url", ["order.created"]),
    ):
        answer = await graphql(
            client, CREATE, {"input": {"url": url, "events": events}}, headers=member.headers
        )
        assert answer.codes == ["BAD_USER_INPUT"], (url, answer.errors)
    unknown_event = await graphql(
        client,
        CREATE,
        {"input": {"url": "https://hooks.invalid/x", "events": ["order.deleted"]}},
        headers=member.headers,
    )
    assert unknown_event.codes == ["BAD_USER_INPUT"]
    metadata = await graphql(
        client,
        CREATE,
        {"input": {"url": "http://169.254.169.254/", "events": ["order.created"]}},
        headers=member.headers,
    )
    assert "metadata" in metadata.errors[0]["message"]


async def test_deliveries_and_retry_as_over_rest(
    local_client: httpx.AsyncClient, staff_user: ApiUser, clean_db: AsyncEngine
) -> None:
    webhook_id = (await created(local_client, staff_user.headers))["webhook"]["id"]
    customer = await UserFactory(local_client).create()
    order_ids = []
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

    first = await graphql(
        local_client, WEBHOOK, {"id": webhook_id, "first": 2}, headers=staff_user.headers
    )
    page = first.ok()["webhook"]["deliveries"]
    assert [uuid.UUID(item["orderId"]) for item in page["items"]] == order_ids[:0:-1]
    rest = await local_client.get(
        f"/webhooks/{webhook_id}/deliveries/", params={"limit": 2}, headers=staff_user.headers
    )
    assert [item["id"] for item in page["items"]] == [item["id"] for item in rest.json()]
    second = await graphql(
        local_client,
        WEBHOOK,
        {"id": webhook_id, "first": 2, "after": page["nextCursor"]},
        headers=staff_user.headers,
    )
    rest_page = second.ok()["webhook"]["deliveries"]
    assert [uuid.UUID(item["orderId"]) for item in rest_page["items"]] == order_ids[:1]
    assert rest_page["nextCursor"] is None

    failed = await graphql(
        local_client, WEBHOOK, {"id": webhook_id, "status": "FAILED"}, headers=staff_user.headers
    )
    [failed_one] = failed.ok()["webhook"]["deliveries"]["items"]
    retry = """mutation($w: UUID!, $d: String!) {
                 retryWebhookDelivery(webhookId: $w, deliveryId: $d) { id status } }"""
    retried = await graphql(
        local_client, retry, {"w": webhook_id, "d": failed_one["id"]}, headers=staff_user.headers
    )
    assert retried.ok()["retryWebhookDelivery"] == {"id": failed_one["id"], "status": "PENDING"}
    again = await graphql(
        local_client, retry, {"w": webhook_id, "d": failed_one["id"]}, headers=staff_user.headers
    )
    assert again.codes == ["CONFLICT"]
