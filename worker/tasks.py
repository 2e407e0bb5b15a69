"""The tasks this worker runs. Each is thin: parse the message, call one domain function, report."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from taskiq import Context, TaskiqDepends

from domain.events.service import process_once
from domain.orders import history
from domain.orders.events import NEW_ORDER, NewOrderEvent
from domain.orders.schemas import OrderChange
from infra.correlation import correlation_id
from infra.db import utcnow
from infra.live import publish_sync
from infra.metrics import TASKS
from infra.tracing import annotate

logger = logging.getLogger(__name__)

# The spec's stand-in for real work on a new order.
WORK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class WorkerResources:
    """Built once by the worker's startup event, read by every task."""

    engine: Engine
    sessions: sessionmaker[Session]
    # Live order events go to the API processes through it (infra/live.py).
    redis: Redis
    key_prefix: str


def process_new_order(event: dict[str, Any], context: Annotated[Context, TaskiqDepends()]) -> None:
    """A plain `def`: taskiq runs it in the worker's thread pool, so the sleep blocks no event loop.

    Processed once in effect: a redelivered event, or a re-run after a crash, finds the event
    recorded in `processed_events` and prints nothing.
    """
    started_at = utcnow()
    new_order = NewOrderEvent.model_validate(event)
    resources: WorkerResources = context.state.resources
    correlation_id.set(new_order.correlation_id)
    annotate(order_id=new_order.order_id, user_id=new_order.user_id, event_id=new_order.event_id)
    logger.info(
        "order %s: processing started (event %s, correlation_id=%s)",
        new_order.order_id,
        new_order.event_id,
        new_order.correlation_id,
    )
    changes: list[OrderChange] = []

    def finish(session: Session) -> None:
        # In the transaction that records the event: the PROCESSED history entry is written once.
        change = history.record_processed(session=session, order_id=new_order.order_id)
        if change is not None:
            changes.append(change)

    done = process_once(
        sessions=resources.sessions,
        event_id=new_order.event_id,
        event_type=NEW_ORDER,
        started_at=started_at,
        work=lambda: time.sleep(WORK_SECONDS),
        finish=finish,
    )
    if done:
        # After the commit, so a commit that failed prints nothing (and its retry prints the line).
        # One write for the whole line: a log line from another thread cannot land inside it.
        print(f"Order {new_order.order_id} processed\n", end="", flush=True)
    # Committed: now the API processes may tell live subscribers.
    for change in changes:
        publish_sync(resources.redis, key_prefix=resources.key_prefix, change=change)
    TASKS.labels("processed" if done else "duplicate").inc()
    annotate(outcome="processed" if done else "duplicate")
    if done:
        logger.info(
            "order %s: processed (event %s, correlation_id=%s)",
            new_order.order_id,
            new_order.event_id,
            new_order.correlation_id,
        )
    else:
        logger.info(
            "order %s: event %s already processed, skipped (correlation_id=%s)",
            new_order.order_id,
            new_order.event_id,
            new_order.correlation_id,
        )
