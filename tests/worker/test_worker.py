"""The worker as a real process: its tasks come from the Redis stream, whatever happened before."""

from __future__ import annotations

import signal
import time

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
