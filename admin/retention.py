"""purge: what domain/retention.py deletes, now (the worker does it on a schedule too)."""

from __future__ import annotations

import argparse

from admin.base import Admin, Command
from domain.retention import RetentionAges, describe, purge
from infra.db import utcnow
from infra.metrics import RETENTION_REMOVED


async def purge_now(args: argparse.Namespace, admin: Admin) -> int:
    removed = await purge(
        new_unit_of_work=admin.unit_of_work,
        ages=RetentionAges.from_settings(admin.settings.retention),
        now=utcnow(),
    )
    for kind, count in removed.items():
        RETENTION_REMOVED.labels(kind).inc(count)
    admin.say(f"removed {describe(removed)}")
    return 0


COMMANDS = [
    Command(
        name="purge",
        help="delete published outbox events, processed-event records, expired idempotency keys"
        " and idle webhook fan-out cursors older than their retention (OUTBOX_RETENTION_HOURS,"
        " PROCESSED_EVENTS_RETENTION_DAYS, IDEMPOTENCY_KEYS_RETENTION_HOURS,"
        " WEBHOOK_ORDER_CURSORS_RETENTION_DAYS); orders and their history stay",
        arguments=lambda parser: None,
        run=purge_now,
    )
]
