"""The whole pipeline, every part a real process: HTTP → PostgreSQL outbox → RabbitMQ → consumer →
Redis stream → worker. Each order's line appears once, within seconds, whatever broke on the way."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from tests.support.pipeline import create_orders, new_order_event, processed_count, publish
from tests.support.processes import Processes
from tests.support.tcp_proxy import TcpProxy


async def pending_outbox_count(db_engine: AsyncEngine, order_ids: list[str]) -> int:
    async with db_engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT count(*) FROM outbox_events WHERE event_type = 'new_order'"
                " AND published_at IS NULL AND payload->>'order_id' = ANY(:ids)"
            ),
            {"ids": order_ids},
        )
        return int(result.scalar_one())


async def test_order_created_over_http_is_processed_by_the_worker(processes: Processes) -> None:
    api, base_url = processes.api()
    consumer = processes.consumer()
    worker = processes.worker()
    await processes.ready(api, consumer, worker)

    [(order_id, request_id)] = await create_orders(base_url, 1)

    await worker.wait_for(f"^Order {order_id} processed$", within=5)
    # The request id travels with the event: the consumer and the task log it.
    await consumer.wait_for(
        f"order {order_id}: task enqueued .*correlation_id={request_id}", within=2
    )
    await worker.wait_for(f"order {order_id}: processed .*correlation_id={request_id}", within=2)


async def test_order_created_while_rabbitmq_is_unreachable_is_delivered_when_it_returns(
    processes: Processes, db_engine: AsyncEngine
) -> None:
    rabbitmq = TcpProxy("127.0.0.1", 5672)
    await rabbitmq.start()
    amqp_url = processes.env["RABBITMQ_URL"].replace(":5672/", f":{rabbitmq.port}/")
    api, base_url = processes.api(RABBITMQ_URL=amqp_url)
    consumer = processes.consumer()
    worker = processes.worker()
    await processes.ready(api, consumer, worker)
    await api.wait_for("relay connected to RabbitMQ", within=10)
    try:
        await rabbitmq.stop()  # connections dropped, new ones refused

        [(order_id, _)] = await create_orders(
            base_url, 1
        )  # still 201: the event waits in the outbox
        await api.wait_for("publishing paused", within=10)
        assert await pending_outbox_count(db_engine, [order_id]) == 1

        await rabbitmq.start()  # same port: the robust connection finds it again by itself
        await worker.wait_for(f"^Order {order_id} processed$", within=15)
        assert await pending_outbox_count(db_engine, [order_id]) == 0
    finally:
        await rabbitmq.stop()


async def test_two_consumers_and_two_workers_process_every_order_exactly_once(
    processes: Processes, db_engine: AsyncEngine
) -> None:
    api, base_url = processes.api()
    consumers = [processes.consumer(f"consumer-{n}") for n in (1, 2)]
    workers = [processes.worker(f"worker-{n}") for n in (1, 2)]
    await processes.ready(api, *consumers, *workers)

    orders = await create_orders(base_url, 30)
    order_ids = [order_id for order_id, _ in orders]

    for order_id in order_ids:
        pattern = f"^Order {order_id} processed$"
        await workers[0].wait_for_any(pattern, others=workers[1:], within=20)
    for order_id in order_ids:
        pattern = f"^Order {order_id} processed$"
        assert sum(worker.count(pattern) for worker in workers) == 1, processes.output()
    assert all(worker.count("processed$") > 0 for worker in workers), "one worker did everything"
    # The line is printed once the commit that records the event took effect.
    assert await processed_orders(db_engine, order_ids) == len(order_ids)


async def processed_orders(db_engine: AsyncEngine, order_ids: list[str]) -> int:
    async with db_engine.connect() as connection:
        processed = await connection.execute(
            text(
                "SELECT count(*) FROM processed_events p JOIN outbox_events o ON o.id = p.event_id"
                " WHERE o.payload->>'order_id' = ANY(:ids)"
            ),
            {"ids": order_ids},
        )
        return int(processed.scalar_one())


async def test_same_event_published_twice_is_processed_once(
    processes: Processes, pipeline_settings: Settings, db_engine: AsyncEngine
) -> None:
    consumer = processes.consumer()
    worker = processes.worker()
    await processes.ready(consumer, worker)
    event = new_order_event()
    body = event.model_dump_json().encode()

    # As after a relay crash between the broker's confirm and the commit: the event goes out twice.
    await publish(pipeline_settings, (str(event.event_id), body), (str(event.event_id), body))

    await consumer.wait_for(f"order {event.order_id}: task enqueued", within=5, count=2)
    await worker.wait_for(f"event {event.event_id} already processed, skipped", within=10)
    assert worker.count(f"^Order {event.order_id} processed$") == 1, worker.output()
    assert await processed_count(db_engine, [event.event_id]) == 1
