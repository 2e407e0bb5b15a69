"""Nothing grows forever: the bookkeeping rows that outlive their use are deleted by age.

What goes, and why it may:
- published outbox rows (`outbox_events` with `published_at`): RabbitMQ has confirmed them; they are
  kept a while for audits and replays;
- processed-event records (`processed_events`): they stop a redelivered event from being processed
  twice, which only an event still somewhere in the pipeline can be. One is kept as long as its
  outbox row exists, whatever its age: the reconciler (relay/relay.py) publishes again any published
  event without a record, so the record must outlive the row;
- expired idempotency keys (`order_idempotency_keys` older than their 24 hours): a later request
  with the same key creates a new order anyway; this removes those of users who never come back
  (a returning user's own expired keys go as they create an order);
- webhook fan-out cursors (`webhook_order_cursors`, one per order ever fanned out) of orders with no
  pending delivery and no event younger than their age: a later event of such an order recreates
  its cursor past every event older than that age (domain/webhooks/delivery_repository.py), so
  nothing is fanned out twice.
Orders and their history are business data and stay.

Each kind is deleted in batches, one transaction per batch, so no delete holds locks for long. Run
on a schedule by the worker (worker/retention.py) and by `orders-admin purge`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Delete,
    Table,
    bindparam,
    delete,
    exists,
    func,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events.models import OutboxEvent, ProcessedEvent
from domain.orders.models import IdempotencyKey, OrderEvent
from domain.orders.service import IDEMPOTENCY_KEY_TTL
from domain.uow import UnitOfWork
from domain.webhooks.models import WebhookDelivery, WebhookOrderCursor
from infra.settings import RetentionSettings

BATCH_SIZE = 5000

_OUTBOX = cast(Table, OutboxEvent.__table__)
_PROCESSED = cast(Table, ProcessedEvent.__table__)
_KEYS = cast(Table, IdempotencyKey.__table__)
_CURSORS = cast(Table, WebhookOrderCursor.__table__)
_EVENTS = cast(Table, OrderEvent.__table__)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_BEFORE = bindparam("before", type_=DateTime(timezone=True))


def _batched(key: list[Column[Any]], condition: ColumnElement[bool]) -> Delete:
    """DELETE of at most BATCH_SIZE rows meeting `condition`, chosen by primary key `key`."""
    table = key[0].table
    batch = select(*key).where(condition).limit(BATCH_SIZE)
    return delete(table).where(tuple_(*key).in_(batch))


_PURGE_OUTBOX = _batched([_OUTBOX.c.id], _OUTBOX.c.published_at < _BEFORE)
_PURGE_PROCESSED = _batched(
    [_PROCESSED.c.event_id],
    (_PROCESSED.c.processed_at < _BEFORE) & ~exists().where(_OUTBOX.c.id == _PROCESSED.c.event_id),
)
_PURGE_KEYS = _batched([_KEYS.c.user_id, _KEYS.c.idempotency_key], _KEYS.c.created_at < _BEFORE)
_PURGE_CURSORS = _batched(
    [_CURSORS.c.order_id],
    ~exists().where(_EVENTS.c.order_id == _CURSORS.c.order_id, _EVENTS.c.at >= _BEFORE)
    & ~exists().where(
        _DELIVERIES.c.order_id == _CURSORS.c.order_id, _DELIVERIES.c.status == "pending"
    ),
)


# The advisory lock a purge batch holds: several workers purging at once would only queue behind
# each other's row locks.
_LOCK = select(func.pg_try_advisory_xact_lock(0x6F7264657273_5F70))


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def try_lock(self) -> bool:
        """True if no other purge holds the lock; held until this transaction ends."""
        return bool((await self._session.execute(_LOCK)).scalar_one())

    async def _delete(self, statement: Delete, before: datetime) -> int:
        result = await self._session.execute(statement, {"before": before})
        return int(getattr(result, "rowcount", 0) or 0)

    async def purge_published_outbox(self, *, before: datetime) -> int:
        return await self._delete(_PURGE_OUTBOX, before)

    async def purge_processed_events(self, *, before: datetime) -> int:
        return await self._delete(_PURGE_PROCESSED, before)

    async def purge_idempotency_keys(self, *, before: datetime) -> int:
        return await self._delete(_PURGE_KEYS, before)

    async def purge_webhook_order_cursors(self, *, before: datetime) -> int:
        return await self._delete(_PURGE_CURSORS, before)


@dataclass(frozen=True, slots=True)
class RetentionAges:
    """How long each kind is kept."""

    outbox: timedelta
    processed_events: timedelta
    idempotency_keys: timedelta
    webhook_order_cursors: timedelta

    @classmethod
    def from_settings(cls, settings: RetentionSettings) -> RetentionAges:
        return cls(
            outbox=timedelta(hours=settings.outbox_retention_hours),
            processed_events=timedelta(days=settings.processed_events_retention_days),
            idempotency_keys=timedelta(hours=settings.idempotency_keys_retention_hours),
            webhook_order_cursors=timedelta(days=settings.webhook_order_cursors_retention_days),
        )

    def __post_init__(self) -> None:
        if self.idempotency_keys < IDEMPOTENCY_KEY_TTL:
            # A younger key still answers retries with its order: deleting it would let a retry
            # create a second one.
            msg = f"idempotency keys live {IDEMPOTENCY_KEY_TTL}; they cannot be purged sooner"
            raise ValueError(msg)


# What `purge` removes, by name: the metric's label and the command's output.
KINDS = ("outbox_events", "processed_events", "idempotency_keys", "webhook_order_cursors")


async def purge(
    *, new_unit_of_work: Callable[[], UnitOfWork], ages: RetentionAges, now: datetime
) -> dict[str, int]:
    """Delete what is older than its age, batch after batch; the rows removed, by kind.

    Outbox rows first: a processed-event record is deleted only once its outbox row is gone. A
    batch that finds another purge at work (its lock taken) ends this one: that one does the rest.
    """
    removed = dict.fromkeys(KINDS, 0)
    plan = (
        ("outbox_events", RetentionRepository.purge_published_outbox, now - ages.outbox),
        (
            "processed_events",
            RetentionRepository.purge_processed_events,
            now - ages.processed_events,
        ),
        (
            "idempotency_keys",
            RetentionRepository.purge_idempotency_keys,
            now - ages.idempotency_keys,
        ),
        (
            "webhook_order_cursors",
            RetentionRepository.purge_webhook_order_cursors,
            now - ages.webhook_order_cursors,
        ),
    )
    for kind, operation, before in plan:
        while True:
            async with new_unit_of_work() as uow:
                repository = RetentionRepository(uow.session)
                if not await repository.try_lock():
                    return removed
                count = await operation(repository, before=before)
            removed[kind] += count
            if count < BATCH_SIZE:
                break
    return removed


def describe(removed: dict[str, int]) -> str:
    """`removed` in words: "3 outbox events, 0 processed events, 1 idempotency keys, 0 webhook
    order cursors"."""
    return ", ".join(f"{removed[kind]} {kind.replace('_', ' ')}" for kind in KINDS)
