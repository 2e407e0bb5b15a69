"""Webhook deliveries, the dispatcher's side after the fan-out (fan_out.py): leased for an attempt,
and the attempts' outcomes recorded, each for a whole batch in one unit of work.

Every function takes the caller's unit of work and never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from domain.uow import UnitOfWork
from domain.webhooks import rules
from domain.webhooks.delivery_repository import AttemptRecord, ClaimedDelivery
from domain.webhooks.fan_out import wire_time
from domain.webhooks.schemas import DeliveryStatus
from infra.db import utcnow
from infra.settings import WebhookSettings

# A lease outlives the attempt's timeout by this much: the attempt's outcome is recorded within it.
LEASE_MARGIN_SECONDS = 2.0


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
    return await uow.webhook_deliveries.claim(
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
class Attempt:
    """An attempt made: its delivery (and lease), when it started, what it saw."""

    delivery: ClaimedDelivery
    started_at: datetime
    result: AttemptResult


@dataclass(frozen=True, slots=True)
class Recorded:
    """An attempt as recorded: the delivery's new status (None: not recorded, the lease was lost or
    the endpoint deleted), and whether the endpoint was disabled by it (and why)."""

    status: str | None
    verdict: rules.Verdict
    disabled: str | None = None


async def record_attempts(
    *, uow: UnitOfWork, settings: WebhookSettings, attempts: Sequence[Attempt]
) -> list[Recorded]:
    """Log each attempt once and decide what follows: succeeded; retried per the schedule
    (connection errors, timeouts, 408, 429 with its Retry-After when longer, 5xx); or failed (any
    other 4xx, 3xx, the schedule spent). 410 also disables the endpoint, and so do
    WEBHOOK_DISABLE_AFTER_FAILURES failed deliveries in a row. One result per attempt, in order."""
    now = utcnow()
    verdicts: list[rules.Verdict] = []
    records: list[AttemptRecord] = []
    for attempt in attempts:
        result = attempt.result
        verdict = rules.Verdict.FAILED if result.refused else rules.verdict(result.response_status)
        following = rules.after_attempt(
            outcome=verdict,
            tries=attempt.delivery.tries + 1,
            schedule=settings.retry_schedule,
            now=now,
            retry_after=rules.retry_after_seconds(result.retry_after, now=now),
        )
        entry = {
            "at": wire_time(attempt.started_at),
            "response_status": result.response_status,
            "duration_ms": result.duration_ms,
            "error": result.error,
            "response_body": result.response_body,
        }
        verdicts.append(verdict)
        records.append(
            AttemptRecord(
                delivery_id=attempt.delivery.id,
                leased_until=attempt.delivery.leased_until,
                attempt=orjson.dumps(entry).decode(),
                status=following.status,
                next_attempt_at=following.next_attempt_at,
                finished_at=None if following.status == DeliveryStatus.PENDING else now,
            )
        )
    written = await uow.webhook_deliveries.record_attempts(records)
    return [
        await _after_recorded(uow, settings, attempt, record, verdict, now, written)
        for attempt, record, verdict in zip(attempts, records, verdicts, strict=True)
    ]


async def _after_recorded(
    uow: UnitOfWork,
    settings: WebhookSettings,
    attempt: Attempt,
    record: AttemptRecord,
    verdict: rules.Verdict,
    now: datetime,
    written: dict[str, uuid.UUID],
) -> Recorded:
    """What a recorded attempt does to its endpoint: a success resets its count of failed
    deliveries, a failed delivery counts (and may disable it), 410 disables it."""
    endpoint_id = written.get(record.delivery_id)
    if endpoint_id is None:
        return Recorded(status=None, verdict=verdict)
    disabled: str | None = None
    if record.status == DeliveryStatus.SUCCEEDED:
        # Most endpoints have no failure to forget: no statement for them (a failure counted
        # since the lease was taken is reset by the next success).
        if attempt.delivery.consecutive_failures:
            await uow.webhooks.endpoint_succeeded(endpoint_id)
    elif record.status == DeliveryStatus.FAILED:
        if verdict is rules.Verdict.GONE:
            reason = "the endpoint answered 410 Gone"
            if await uow.webhooks.disable(endpoint_id=endpoint_id, reason=reason, at=now):
                disabled = reason
        if await uow.webhooks.endpoint_failed(
            endpoint_id=endpoint_id, disable_after=settings.disable_after_failures, at=now
        ):
            disabled = f"{settings.disable_after_failures} consecutive failed deliveries"
    return Recorded(status=record.status, verdict=verdict, disabled=disabled)


async def purge_succeeded(*, uow: UnitOfWork, settings: WebhookSettings, limit: int) -> int:
    """Delete up to `limit` succeeded deliveries older than WEBHOOK_LOG_RETENTION_DAYS."""
    before = utcnow() - timedelta(days=settings.log_retention_days)
    return await uow.webhook_deliveries.purge_succeeded_before(before=before, limit=limit)
