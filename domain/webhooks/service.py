"""Webhook rules for staff: endpoints and the delivery log (the dispatcher's side of deliveries:
`deliveries.py`).

Every function takes the caller's unit of work and never commits.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime, timedelta

from domain.orders.errors import InvalidCursor
from domain.uow import UnitOfWork
from domain.webhooks import signing, targets
from domain.webhooks.errors import (
    WebhookDeliveryNotFailed,
    WebhookDeliveryNotFound,
    WebhookNotFound,
)
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from domain.webhooks.schemas import (
    CreatedWebhook,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
)
from infra.db import utcnow
from infra.settings import Environment, WebhookSettings

# --- endpoints ---------------------------------------------------------------------------------------


async def create_webhook(
    *, uow: UnitOfWork, settings: WebhookSettings, environment: Environment, data: WebhookCreate
) -> CreatedWebhook:
    """A new enabled endpoint; its URL must pass the rules against request forgery
    (`WebhookTargetRefused`, naming the rule). Its secret is shown here, once."""
    await targets.resolve(data.url, settings, environment)
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        url=data.url,
        events=[str(event) for event in data.events],
        description=data.description,
        enabled=True,
        disabled_reason=None,
        secret=signing.new_secret(),
        previous_secret=None,
        previous_secret_until=None,
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
    )
    await uow.webhooks.add(endpoint)
    return CreatedWebhook.model_validate(
        {**WebhookOut.model_validate(endpoint).model_dump(), "secret": endpoint.secret}
    )


async def list_webhooks(*, uow: UnitOfWork) -> list[WebhookOut]:
    return [WebhookOut.model_validate(endpoint) for endpoint in await uow.webhooks.all()]


async def _endpoint(
    uow: UnitOfWork, webhook_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    endpoint = await uow.webhooks.get(webhook_id, lock=lock)
    if endpoint is None:
        raise WebhookNotFound
    return endpoint


async def get_webhook(*, uow: UnitOfWork, webhook_id: uuid.UUID) -> WebhookOut:
    return WebhookOut.model_validate(await _endpoint(uow, webhook_id))


async def update_webhook(
    *,
    uow: UnitOfWork,
    settings: WebhookSettings,
    environment: Environment,
    webhook_id: uuid.UUID,
    data: WebhookUpdate,
) -> WebhookOut:
    """Change the fields given. Enabling an endpoint clears why it was disabled and its count of
    failed deliveries; its pending deliveries go out again."""
    endpoint = await _endpoint(uow, webhook_id, lock=True)
    if data.url is not None:
        await targets.resolve(data.url, settings, environment)
        endpoint.url = data.url
    if data.events is not None:
        endpoint.events = [str(event) for event in data.events]
    if "description" in data.model_fields_set:
        endpoint.description = data.description
    if data.enabled is not None and data.enabled != endpoint.enabled:
        endpoint.enabled = data.enabled
        endpoint.disabled_reason = None
        endpoint.consecutive_failures = 0
    endpoint.updated_at = utcnow()
    await uow.session.flush()
    return WebhookOut.model_validate(endpoint)


async def delete_webhook(*, uow: UnitOfWork, webhook_id: uuid.UUID) -> None:
    """The endpoint goes, and its deliveries with it (pending ones are never sent)."""
    await uow.webhooks.delete(await _endpoint(uow, webhook_id, lock=True))


async def rotate_secret(
    *, uow: UnitOfWork, settings: WebhookSettings, webhook_id: uuid.UUID
) -> str:
    """A new secret; the old one keeps signing beside it for WEBHOOK_SECRET_OVERLAP_SECONDS."""
    endpoint = await _endpoint(uow, webhook_id, lock=True)
    now = utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + timedelta(seconds=settings.secret_overlap_seconds)
    endpoint.secret = signing.new_secret()
    endpoint.updated_at = now
    await uow.session.flush()
    return endpoint.secret


# --- the delivery log --------------------------------------------------------------------------------


def _encode_cursor(delivery: WebhookDelivery) -> str:
    raw = f"{delivery.created_at.isoformat()}|{delivery.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at_text, delivery_id = raw.split("|")
        created_at = datetime.fromisoformat(created_at_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor from None
    if created_at.tzinfo is None:
        raise InvalidCursor
    return created_at, delivery_id


async def list_deliveries(
    *,
    uow: UnitOfWork,
    webhook_id: uuid.UUID,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> DeliveryPage:
    """The endpoint's deliveries, newest first, one page after the opaque `cursor`."""
    await _endpoint(uow, webhook_id)
    rows = await uow.webhooks.deliveries(
        webhook_id=webhook_id,
        status=None if status is None else str(status),
        limit=limit + 1,
        after=_decode_cursor(cursor) if cursor else None,
    )
    page = rows[:limit]
    return DeliveryPage(
        items=[DeliveryOut.model_validate(row) for row in page],
        next_cursor=_encode_cursor(page[-1]) if len(rows) > limit else None,
    )


async def retry_delivery(
    *, uow: UnitOfWork, settings: WebhookSettings, webhook_id: uuid.UUID, delivery_id: str
) -> DeliveryOut:
    """Send a failed delivery again, with the same webhook-id: one more attempt, now (and no
    further retries if it fails). `WebhookDeliveryNotFailed` for a pending or succeeded one."""
    delivery = await uow.webhooks.delivery(
        webhook_id=webhook_id, delivery_id=delivery_id, lock=True
    )
    if delivery is None:
        raise WebhookDeliveryNotFound
    if delivery.status != DeliveryStatus.FAILED:
        raise WebhookDeliveryNotFailed(delivery.status)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = utcnow()
    delivery.finished_at = None
    delivery.leased_until = None
    # The schedule is spent: the next failure ends the delivery `failed` again.
    delivery.tries = len(settings.retry_schedule)
    await uow.session.flush()
    return DeliveryOut.model_validate(delivery)
