"""`python -m worker`: one process running taskiq's Receiver over the broker of worker/broker.py.

`taskiq worker worker.broker:create_broker` works too, but this entrypoint is what the Procfile runs:
- one process: the CLI puts a supervisor in front of forked workers, and a SIGKILL of the supervisor
  (an OOM kill, a test) leaves the child running as an orphan;
- `loop.add_signal_handler` wakes the event loop at once; the CLI's plain `signal.signal` handlers
  are noticed only at the loop's next I/O, which an idle loop may not do for a long time;
- concurrency comes from the settings (WORKER_CONCURRENCY), not from CLI flags.
On SIGTERM (or Ctrl-C): stop reading, let running tasks finish (WORKER_SHUTDOWN_GRACE_SECONDS at
most), exit; whatever did not finish stays pending in the stream and is reclaimed by the next worker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from infra.heartbeat import beat_forever
from infra.logs import configure_logging
from infra.metrics import serve_metrics
from infra.taskq import ReliableStreamBroker
from worker.broker import create_broker
from worker.retention import purge_on_schedule
from worker.settings import WorkerProcessSettings, get_worker_settings

logger = logging.getLogger("worker")


async def serve(broker: ReliableStreamBroker, settings: WorkerProcessSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    concurrency = settings.worker.concurrency
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="task")
    broker.is_worker_process = True  # so that startup fires WORKER_STARTUP, the composition root
    receiver = Receiver(
        broker=broker,
        executor=executor,
        max_async_tasks=concurrency,
        max_prefetch=0,
        # Acknowledged only once the task returned; one that raised stays pending (see taskq.py).
        ack_type=AcknowledgeType.WHEN_EXECUTED,
        wait_tasks_timeout=settings.worker.shutdown_grace_seconds,
    )
    logger.info("worker %s: %d concurrent tasks", broker.consumer_name, concurrency)
    # Liveness for the container healthcheck: fresh while the listener reaches Redis.
    heartbeat = asyncio.create_task(beat_forever("worker", lambda: broker.redis_reachable))
    retention = asyncio.create_task(purge_on_schedule(settings, stop), name="retention")
    try:
        await receiver.listen(stop)
    finally:
        heartbeat.cancel()
        stop.set()
        await asyncio.gather(retention, return_exceptions=True)
        try:
            await asyncio.wait_for(broker.shutdown(), 5)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
    logger.info("worker stopped")


def main() -> None:
    settings = get_worker_settings()
    configure_logging(settings.app)
    serve_metrics(settings.worker.metrics_port, settings.app)
    asyncio.run(serve(create_broker(settings), settings))
