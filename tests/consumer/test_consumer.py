"""The consumer as a real process: RabbitMQ in, taskiq tasks on the Redis stream out, nothing lost."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import aio_pika

from infra import amqp
from infra.settings import Settings
from tests.support.pipeline import (
    enqueued_event_ids,
    new_order_event,
    publish,
    wait_until_enqueued,
)
from tests.support.processes import Processes, free_port
from tests.support.tcp_proxy import TcpProxy


async def drain_dead_letters(settings: Settings) -> set[str]:
    """The message ids now in the dead-letter queue (taken out of it)."""
    connection = await aio_pika.connect(settings.rabbitmq.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(amqp.NEW_ORDER_DEAD_LETTER_QUEUE)
        ids: set[str] = set()
        while (message := await queue.get(fail=False, timeout=5)) is not None:
            ids.add(message.message_id or "")
            await message.ack()
        return ids


async def test_valid_event_is_enqueued_and_malformed_one_dead_lettered(
    processes: Processes, pipeline_settings: Settings
) -> None:
    consumer = processes.consumer()
    await processes.ready(consumer)
    valid = new_order_event()
    garbage_id = f"garbage-{uuid.uuid4().hex[:8]}"

    await publish(
        pipeline_settings,
        (garbage_id, b'{"event": "new_order", "order_id": "not-a-uuid"}'),
        (str(valid.event_id), valid.model_dump_json().encode()),
    )

    await wait_until_enqueued(pipeline_settings, {str(valid.event_id)}, within=5)
    await consumer.wait_for(f"message {garbage_id}: malformed new_order event", within=5)
    dead: set[str] = set()
    deadline = time.monotonic() + 5
    while garbage_id not in dead:
        assert time.monotonic() < deadline, "the malformed message never reached the DLQ"
        dead |= await drain_dead_letters(pipeline_settings)
        await asyncio.sleep(0.05)


async def test_redis_unreachable_then_back_enqueues_without_a_restart(
    processes: Processes, pipeline_settings: Settings
) -> None:
    redis = TcpProxy("127.0.0.1", 6379)
    await redis.start()
    await redis.stop()  # its port now refuses connections: Redis looks down
    consumer = processes.consumer(REDIS_URL=f"redis://127.0.0.1:{redis.port}/0")
    await processes.ready(consumer)
    event = new_order_event()

    await publish(pipeline_settings, (str(event.event_id), event.model_dump_json().encode()))
    await consumer.wait_for(f"order {event.order_id}: enqueue failed", within=5)
    await redis.start()
    try:
        await wait_until_enqueued(pipeline_settings, {str(event.event_id)}, within=10)
        await consumer.wait_for(f"order {event.order_id}: task enqueued", within=5)
    finally:
        await redis.stop()


async def test_consumer_killed_with_messages_in_hand_loses_none(
    processes: Processes, pipeline_settings: Settings
) -> None:
    # Redis unreachable: the consumer holds every message, unacknowledged, retrying the enqueue.
    doomed = processes.consumer("doomed", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    await processes.ready(doomed)
    events = [new_order_event() for _ in range(5)]
    await publish(
        pipeline_settings, *((str(e.event_id), e.model_dump_json().encode()) for e in events)
    )
    await doomed.wait_for("enqueue failed", within=10, count=len(events))

    doomed.signal(signal.SIGKILL)
    await doomed.wait_exit(within=5)
    assert await enqueued_event_ids(pipeline_settings) == set()

    successor = processes.consumer("successor")
    await processes.ready(successor)
    await wait_until_enqueued(pipeline_settings, {str(e.event_id) for e in events}, within=10)


async def test_sigterm_hands_back_what_it_cannot_finish_and_exits_within_seconds(
    processes: Processes, pipeline_settings: Settings
) -> None:
    stuck = processes.consumer("stuck", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    await processes.ready(stuck)
    event = new_order_event()
    await publish(pipeline_settings, (str(event.event_id), event.model_dump_json().encode()))
    await stuck.wait_for(f"order {event.order_id}: enqueue failed", within=5)

    started = time.monotonic()
    stuck.signal(signal.SIGTERM)
    assert await stuck.wait_exit(within=10) == 0
    assert time.monotonic() - started < 5  # CONSUMER_SHUTDOWN_GRACE_SECONDS=2 in these tests
    assert stuck.count(f"order {event.order_id}: handed back to the queue") == 1, stuck.output()

    successor = processes.consumer("successor")
    await processes.ready(successor)
    await wait_until_enqueued(pipeline_settings, {str(event.event_id)}, within=10)
