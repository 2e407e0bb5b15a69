"""The worker's broker and its composition root (the WORKER_STARTUP event): nothing at import time.

`create_broker` is a factory, so `taskiq worker worker.broker:create_broker` works too; the Procfile
runs `python -m worker` (see worker/main.py for why).
"""

from __future__ import annotations

from taskiq import TaskiqEvents, TaskiqState

from domain.orders.events import PROCESS_NEW_ORDER_TASK
from infra.db import create_sync_engine, create_sync_session_factory
from infra.logs import configure_logging
from infra.redis import sync_redis_client
from infra.taskq import ReliableStreamBroker
from infra.taskq import create_broker as create_stream_broker
from infra.tracing import configure_tracing, instrument_broker
from worker.settings import WorkerProcessSettings, get_worker_settings
from worker.tasks import WorkerResources, process_new_order


def create_broker(settings: WorkerProcessSettings | None = None) -> ReliableStreamBroker:
    settings = settings or get_worker_settings()
    broker = create_stream_broker(
        redis=settings.redis,
        settings=settings.taskiq,
        # The listener, the heartbeat and the acknowledgements of finishing tasks.
        max_connections=min(settings.worker.concurrency, 50) + 2,
    )
    broker.register_task(process_new_order, task_name=PROCESS_NEW_ORDER_TASK)

    async def startup(state: TaskiqState) -> None:
        configure_logging(settings.app)
        # Before the engine, which is then traced too; the middleware continues each task's trace.
        configure_tracing("orders-worker")
        instrument_broker(broker)
        engine = create_sync_engine(settings.database, pool_size=settings.worker.db_pool_size)
        state.resources = WorkerResources(
            engine=engine,
            sessions=create_sync_session_factory(engine),
            redis=sync_redis_client(
                settings.redis,
                socket_timeout=settings.redis.socket_timeout_seconds,
                socket_connect_timeout=settings.redis.socket_timeout_seconds,
            ),
            key_prefix=settings.redis.key_prefix,
        )

    async def shutdown(state: TaskiqState) -> None:
        resources: WorkerResources | None = getattr(state, "resources", None)
        if resources is not None:
            resources.engine.dispose()
            resources.redis.close()

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, startup)
    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, shutdown)
    return broker
