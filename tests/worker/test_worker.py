"""The worker as a real process: its tasks come from the Redis stream, whatever happened before."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from tests.support.pipeline import RECLAIM_IDLE_SECONDS, enqueue, new_order_event, processed_count
from tests.support.processes import Processes
from tests.support.tcp_proxy import TcpProxy


async def test_task_enqueued_before_any_worker_ever_started_is_processed(
    processes: Processes, pipeline_settings: Settings
) -> None:
    event = new_order_event()
    await enqueue(pipeline_settings, event)  # a brand-new stream: no worker has ever read it

    worker = processes.worker()
    await processes.ready(worker)

    await worker.wait_for(f"^Order {event.order_id} processed$", within=10)
    await worker.wait_for(f"correlation_id={event.correlation_id}", within=1)


async def test_same_event_twice_is_processed_once_even_concurrently(
    processes: Processes, pipeline_settings: Settings, db_engine: AsyncEngine
) -> None:
    event = new_order_event()
    worker = processes.worker()
    await processes.ready(worker)

    await enqueue(pipeline_settings, event, event)  # both run at once, in two threads

    await worker.wait_for(f"event {event.event_id} already processed, skipped", within=10)
    assert worker.count(f"^Order {event.order_id} processed$") == 1, worker.output()
    assert await processed_count(db_engine, [event.event_id]) == 1


async def test_worker_killed_mid_task_is_done_by_the_next_worker(
    processes: Processes, pipeline_settings: Settings, db_engine: AsyncEngine
) -> None:
    event = new_order_event()
    doomed = processes.worker("doomed-worker")
    await processes.ready(doomed)
    await enqueue(pipeline_settings, event)
    await doomed.wait_for(f"order {event.order_id}: processing started", within=10)

    doomed.signal(signal.SIGKILL)
    await doomed.wait_exit(within=5)
    assert doomed.count("processed$") == 0
    assert await processed_count(db_engine, [event.event_id]) == 0

    successor = processes.worker("successor")
    await processes.ready(successor)
    # Taken over once idle for the reclaim time, then 2 s of work.
    await successor.wait_for(f"^Order {event.order_id} processed$", within=RECLAIM_IDLE_SECONDS + 8)
    assert await processed_count(db_engine, [event.event_id]) == 1


async def test_sigterm_lets_the_running_task_finish_then_exits(
    processes: Processes, pipeline_settings: Settings
) -> None:
    event = new_order_event()
    worker = processes.worker()
    await processes.ready(worker)
    await enqueue(pipeline_settings, event)
    await worker.wait_for(f"order {event.order_id}: processing started", within=10)

    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert await worker.wait_exit(within=8) == 0
    assert time.monotonic() - started < 5
    assert worker.count(f"^Order {event.order_id} processed$") == 1, worker.output()


async def test_task_failing_while_postgresql_is_unreachable_is_retried_once_it_returns(
    processes: Processes, pipeline_settings: Settings, db_engine: AsyncEngine
) -> None:
    postgres = TcpProxy("127.0.0.1", 5432)
    await postgres.start()
    await postgres.stop()  # its port refuses connections: PostgreSQL looks down to this worker
    database_url = processes.env["DATABASE_URL"].replace(":5432/", f":{postgres.port}/")
    worker = processes.worker(DATABASE_URL=database_url)
    await processes.ready(worker)
    event = new_order_event()

    await enqueue(pipeline_settings, event)
    await worker.wait_for("task .* failed; it will be retried", within=10)
    await postgres.start()
    try:
        # Not acknowledged, so taken again once idle for the reclaim time.
        await worker.wait_for(
            f"^Order {event.order_id} processed$", within=RECLAIM_IDLE_SECONDS + 8
        )
    finally:
        await postgres.stop()
    assert await processed_count(db_engine, [event.event_id]) == 1


async def test_a_commit_lost_with_the_database_prints_nothing_and_its_retry_prints_once(
    processes: Processes, pipeline_settings: Settings, db_engine: AsyncEngine
) -> None:
    """PostgreSQL vanishes at the task's COMMIT (a primary killed then): the commit never took
    effect, so the run prints no line; the retry processes the event and prints the one line."""
    postgres = TcpProxy("127.0.0.1", 5432)
    await postgres.start()
    database_url = processes.env["DATABASE_URL"].replace(":5432/", f":{postgres.port}/")
    worker = processes.worker(DATABASE_URL=database_url)
    await processes.ready(worker)
    event = new_order_event()
    line = f"^Order {event.order_id} processed$"

    await enqueue(pipeline_settings, event)
    # The task's work takes 2 s, then it records the event and commits: cut at that COMMIT (the
    # worker's psycopg sends `COMMIT`; its retention purge, on asyncpg, `COMMIT;`).
    await worker.wait_for(f"order {event.order_id}: processing started", within=10)
    postgres.cut_on(b"COMMIT\x00")
    try:
        await asyncio.wait_for(postgres.cut.wait(), 10)
        await postgres.start()
        await worker.wait_for("task .* failed; it will be retried", within=10)
        await worker.wait_for(line, within=RECLAIM_IDLE_SECONDS + 8)
    finally:
        await postgres.stop()
    assert worker.count(line) == 1
    assert await processed_count(db_engine, [event.event_id]) == 1


async def _stored_order(db_engine: AsyncEngine, order_id: uuid.UUID) -> int:
    """A user and their PENDING order with its CREATED event, as the API writes them; the user id."""
    async with db_engine.begin() as connection:
        user_id = (
            await connection.execute(
                text(
                    "INSERT INTO users (email, password_hash, created_at) "
                    "VALUES (:email, 'x', now()) RETURNING id"
                ),
                {"email": f"worker-{uuid.uuid4().hex[:8]}@example.com"},
            )
        ).scalar_one()
        await connection.execute(
            text(
                "INSERT INTO orders (id, user_id, items, total_price, status, created_at, "
                "updated_at, version) VALUES (:id, :user_id, '[]', 17, 'PENDING', now(), now(), 1)"
            ),
            {"id": order_id, "user_id": user_id},
        )
        await connection.execute(
            text(
                "INSERT INTO order_events (order_id, seq, kind, status, at) "
                "VALUES (:id, 1, 'CREATED', 'PENDING', now())"
            ),
            {"id": order_id},
        )
    return int(user_id)


async def test_a_redelivered_task_writes_processed_into_the_history_once(
    processes: Processes, pipeline_settings: Settings, db_engine: AsyncEngine
) -> None:
    event = new_order_event()
    await _stored_order(db_engine, event.order_id)
    worker = processes.worker()
    await processes.ready(worker)

    await enqueue(pipeline_settings, event, event)  # concurrently, in two threads
    await worker.wait_for(f"event {event.event_id} already processed, skipped", within=10)
    await enqueue(pipeline_settings, event)  # and once more, after it was done
    await worker.wait_for(f"event {event.event_id} already processed, skipped", within=10, count=2)

    async with db_engine.connect() as connection:
        history = await connection.execute(
            text(
                "SELECT seq, kind, status, correlation_id FROM order_events "
                "WHERE order_id = :id ORDER BY seq"
            ),
            {"id": event.order_id},
        )
    assert history.all() == [
        (1, "CREATED", "PENDING", None),
        (2, "PROCESSED", "PENDING", event.correlation_id),
    ]
