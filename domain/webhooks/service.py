"""Webhook rules: endpoints (staff manage them through the API) and deliveries (the dispatcher).

Every function takes the caller's unit of work and never commits.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from domain.orders.errors import InvalidCursor
from domain.orders.models import OrderEvent
from domain.orders.schemas import OrderEventOut, OrderOut
from domain.orders.status import OrderEventKind
from domain.uow import UnitOfWork
from domain.webhooks import rules, signing, targets
from domain.webhooks.errors import (
    WebhookDeliveryNotFailed,
    WebhookDeliveryNotFound,
    WebhookNotFound,
)
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from domain.webhooks.repository import ClaimedDelivery
from domain.webhooks.schemas import (
    CreatedWebhook,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    WebhookCreate,
    WebhookEvent,
    WebhookOut,
    WebhookUpdate,
)
from infra.db import utcnow
from infra.settings import Environment, WebhookSettings

# A lease outlives the attempt's timeout by this much: the attempt's outcome is recorded within it.
LEASE_MARGIN_SECONDS = 2.0

EVENT_OF_KIND = {
    OrderEventKind.CREATED: WebhookEvent.ORDER_CREATED,
    OrderEventKind.STATUS_CHANGED: WebhookEvent.ORDER_STATUS_CHANGED,
    OrderEventKind.PROCESSED: WebhookEvent.ORDER_PROCESSED,
}


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


# --- fan-out: order events → deliveries ----------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _payload(order: OrderOut, event: OrderEvent, event_type: WebhookEvent) -> dict[str, Any]:
    data = order.model_dump(mode="json")
    data["event"] = OrderEventOut.model_validate(event).model_dump(mode="json")
    return {"type": str(event_type), "timestamp": _iso(event.at), "data": data}


def new_delivery_id() -> str:
    """A webhook-id: unique per event and endpoint, kept on every retry."""
    return "msg_" + uuid.uuid4().hex


async def fan_out(
    *, uow: UnitOfWork, order_id: uuid.UUID, seq: int, traceparent: str | None
) -> int:
    """Turn the order's events up to `seq` that are not fanned out yet into deliveries, one per
    enabled endpoint subscribed to the event's type and existing when it happened; the number made.

    Events arrive in any order and more than once (RabbitMQ redelivers; the relay publishes at least
    once): the order's cursor makes this idempotent and keeps the events of one order in `seq`
    order, whichever message arrives first. `data` is the order as GET /orders/{id}/ answers it
    when the event is fanned out (moments after its commit), with the event itself beside it.
    """
    done = await uow.webhooks.advance_cursor(order_id=order_id)
    if done >= seq:
        return 0
    order_row, events = await uow.webhooks.order_with_events(
        order_id=order_id, after_seq=done, up_to_seq=seq
    )
    if not events:
        return 0
    await uow.webhooks.set_cursor(order_id=order_id, seq=events[-1].seq)
    if order_row is None:
        return 0
    subscribers = await uow.webhooks.subscribers()
    if not subscribers:
        return 0
    order = OrderOut.model_validate(order_row)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for event in events:
        event_type = EVENT_OF_KIND[event.kind]
        payload: dict[str, Any] | None = None
        for endpoint_id, subscribed, created_at in subscribers:
            if event_type not in subscribed or created_at > event.at:
                continue
            payload = payload or _payload(order, event, event_type)
            rows.append(
                {
                    "id": new_delivery_id(),
                    "endpoint_id": endpoint_id,
                    "order_id": order_id,
                    "seq": event.seq,
                    "event_type": str(event_type),
                    "payload": payload,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": [],
                    "tries": 0,
                    "next_attempt_at": now,
                    "leased_until": None,
                    "traceparent": traceparent,
                    "created_at": now,
                    "finished_at": None,
                }
            )
    await uow.webhooks.add_deliveries(rows)
    return len(rows)


# --- attempts ------------------------------------------------------------------------------------------


def body_of(delivery: ClaimedDelivery) -> bytes:
    """The bytes sent (and signed): the same payload on every attempt."""
    return orjson.dumps(delivery.payload)


def signing_secrets(delivery: ClaimedDelivery, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [delivery.secret]
    if (
        delivery.previous_secret
        and delivery.previous_secret_until is not None
        and delivery.previous_secret_until > now
    ):
        found.append(delivery.previous_secret)
    return found


async def claim_due(
    *,
    uow: UnitOfWork,
    settings: WebhookSettings,
    limit: int,
    per_endpoint: int,
    saturated: Sequence[uuid.UUID],
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries for one attempt each. A lease outlives the attempt's
    timeout; a dispatcher that dies mid-attempt leaves it to run out, and the delivery is attempted
    again, with the same webhook-id."""
    now = utcnow()
    return await uow.webhooks.claim(
        now=now,
        lease_until=now + timedelta(seconds=settings.timeout_seconds + LEASE_MARGIN_SECONDS),
        limit=limit,
        per_endpoint=per_endpoint,
        saturated=saturated,
    )


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt saw: the answer's status (None: no answer), its first kilobyte, and why
    there was none."""

    response_status: int | None
    duration_ms: int
    error: str | None = None
    response_body: str | None = None
    retry_after: str | None = None
    # The URL broke a rule against request forgery at send time: failed, never retried.
    refused: bool = False


@dataclass(frozen=True, slots=True)
class Recorded:
    """An attempt as recorded: the delivery's new status (None: not recorded, the lease was lost or
    the endpoint deleted), and whether the endpoint was disabled by it (and why)."""

    status: str | None
    verdict: rules.Verdict
    disabled: str | None = None


async def record_attempt(
    *,
    uow: UnitOfWork,
    settings: WebhookSettings,
    delivery: ClaimedDelivery,
    started_at: datetime,
    result: AttemptResult,
) -> Recorded:
    """Log the attempt once and decide what follows: succeeded; retried per the schedule
    (connection errors, timeouts, 408, 429 with its Retry-After when longer, 5xx); or failed (any
    other 4xx, 3xx, the schedule spent). 410 also disables the endpoint, and so do
    WEBHOOK_DISABLE_AFTER_FAILURES failed deliveries in a row."""
    now = utcnow()
    outcome = rules.Verdict.FAILED if result.refused else rules.verdict(result.response_status)
    following = rules.after_attempt(
        outcome=outcome,
        tries=delivery.tries + 1,
        schedule=settings.retry_schedule,
        now=now,
        retry_after=rules.retry_after_seconds(result.retry_after, now=now),
    )
    attempt = {
        "at": _iso(started_at),
        "response_status": result.response_status,
        "duration_ms": result.duration_ms,
        "error": result.error,
        "response_body": result.response_body,
    }
    endpoint_id = await uow.webhooks.record_attempt(
        delivery_id=delivery.id,
        leased_until=delivery.leased_until,
        attempt=orjson.dumps(attempt).decode(),
        status=following.status,
        next_attempt_at=following.next_attempt_at,
        finished_at=None if following.status == DeliveryStatus.PENDING else now,
    )
    if endpoint_id is None:
        return Recorded(status=None, verdict=outcome)
    disabled: str | None = None
    if following.status == DeliveryStatus.SUCCEEDED:
        # Most endpoints have no failure to forget: no statement for them (a failure counted
        # since the lease was taken is reset by the next success).
        if delivery.consecutive_failures:
            await uow.webhooks.endpoint_succeeded(endpoint_id)
    elif following.status == DeliveryStatus.FAILED:
        if outcome is rules.Verdict.GONE:
            reason = "the endpoint answered 410 Gone"
            if await uow.webhooks.disable(endpoint_id=endpoint_id, reason=reason, at=now):
                disabled = reason
        if await uow.webhooks.endpoint_failed(
            endpoint_id=endpoint_id, disable_after=settings.disable_after_failures, at=now
        ):
            disabled = f"{settings.disable_after_failures} consecutive failed deliveries"
    return Recorded(status=following.status, verdict=outcome, disabled=disabled)


async def purge_succeeded(*, uow: UnitOfWork, settings: WebhookSettings, limit: int) -> int:
    """Delete up to `limit` succeeded deliveries older than WEBHOOK_LOG_RETENTION_DAYS."""
    before = utcnow() - timedelta(days=settings.log_retention_days)
    return await uow.webhooks.purge_succeeded_before(before=before, limit=limit)
