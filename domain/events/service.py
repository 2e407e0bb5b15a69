"""Doing an event's work once in effect, whatever the redeliveries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

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
    """Run `work`, then `finish`, unless the event is already processed; True if it ran now.

    `work` is the slow, repeatable part: it runs outside any transaction, so a task holds a database
    connection only for milliseconds and a small pool serves many concurrent tasks. `finish` is the
    visible effect: it runs inside the transaction that records the event (and gets its session, to
    write there what must happen exactly once), after that record took the event's lock, and the
    commit follows it at once. So two concurrent runs never both finish, and a
    run that dies before the commit leaves the event unrecorded, to be done again on redelivery (the
    one duplicate left possible is a crash in the instant between `finish` and the commit).
    """
    with sessions() as session:
        if ProcessedEventRepository(session).exists(event_id):
            return False
    work()
    with sessions.begin() as session:
        recorded = ProcessedEventRepository(session).record(
            event_id=event_id, event_type=event_type, started_at=started_at, processed_at=utcnow()
        )
        if not recorded:
            return False
        finish(session)
    return True
