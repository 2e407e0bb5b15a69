"""Doing an event's work once in effect, whatever the redeliveries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from domain.events.repository import ProcessedEventRepository
from infra.db import utcnow


def process_once(
    *,
    sessions: sessionmaker[Session],
    event_id: uuid.UUID,
    event_type: str,
    started_at: datetime,
    work: Callable[[], None],
    finish: Callable[[Session], None],
) -> bool:
    """Run `work`, then `finish`, unless the event is already processed; True if it ran now, i.e.
    its record is committed.

    `work` is the slow, repeatable part: it runs outside any transaction, so a task holds a database
    connection only for milliseconds and a small pool serves many concurrent tasks. `finish` writes
    what must happen exactly once: it runs inside the transaction that records the event (and gets
    its session), after that record took the event's lock. So two concurrent runs never both finish,
    and a run whose commit fails leaves the event unrecorded, to be done again on redelivery. What
    must be seen exactly once outside the database (the spec's line) goes after a True.

    A commit whose connection dies has an unknown outcome: a primary killed after its synchronous
    standby had the commit, before it answered, took effect after all. The record is then looked for
    (with this run's `started_at`) once the database answers again, for up to `RECHECK_SECONDS`: True
    if this run's commit took effect, the error otherwise.
    """
    with sessions() as session:
        if ProcessedEventRepository(session).exists(event_id):
            return False
    work()
    try:
        with sessions.begin() as session:
            recorded = ProcessedEventRepository(session).record(
                event_id=event_id,
                event_type=event_type,
                started_at=started_at,
                processed_at=utcnow(),
            )
            if not recorded:
                return False
            finish(session)
    except (DBAPIError, OSError):
        if _recorded_by(sessions, event_id=event_id, started_at=started_at) is not True:
            raise
    return True


# A failover's length (Patroni's ttl and the promotion) with room to spare.
RECHECK_SECONDS = 60.0


def _recorded_by(
    sessions: sessionmaker[Session], *, event_id: uuid.UUID, started_at: datetime
) -> bool | None:
    """Whether this run's record is committed; None if the database did not answer in time."""
    deadline = time.monotonic() + RECHECK_SECONDS
    while True:
        try:
            with sessions() as session:
                return ProcessedEventRepository(session).recorded_by(
                    event_id, started_at=started_at
                )
        except (DBAPIError, OSError):
            if time.monotonic() > deadline:
                return None
            time.sleep(1)
