"""Soak (`make soak`, not part of `make test`): SOAK_ORDERS orders (5,000) pushed through the whole
pipeline while the consumer and the worker are each SIGKILLed and restarted SOAK_KILLS times (3) at
random moments. Afterwards every order must have been processed exactly once: one `processed_events`
row and one `Order <id> processed` line each, nothing left in the outbox, the queue or the task
stream, nothing dead-lettered. Prints the figures.

The file name keeps pytest from collecting it in `make test`; the Makefile names it explicitly.
Isolated like the tests: the run's own database, RabbitMQ vhost, Redis prefix and stream.
Tunables: SOAK_ORDERS, SOAK_KILLS, SOAK_CLIENTS (16), SOAK_SEED (random, printed).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field

import aio_pika
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra import amqp
from infra.settings import Settings
from tests.support.pipeline import create_orders
from tests.support.processes import ManagedProcess, Processes

ORDERS = int(os.environ.get("SOAK_ORDERS", "5000"))
KILLS = int(os.environ.get("SOAK_KILLS", "3"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "16"))
SEED = int(os.environ.get("SOAK_SEED", str(random.SystemRandom().randrange(10**6))))
# One worker finishes about WORKER_CONCURRENCY / 2 = 50 orders a second (each task sleeps 2 s).
EXPECTED_SECONDS = ORDERS / 50
PROCESSED_LINE = re.compile(r"^Order ([0-9a-f-]{36}) processed$")


def report(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the figures are what the soak is for


@dataclass
class Chaos:
    """Kills one process of a kind at a time and starts its successor, at the scheduled moments."""

    processes: Processes
    current: dict[str, ManagedProcess]
    rng: random.Random
    kills: list[tuple[float, str]] = field(default_factory=list)

    async def run(self, started: float, schedule: list[tuple[float, str]]) -> None:
        for at, kind in schedule:
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            victim = self.current[kind]
            victim.signal(signal.SIGKILL)
            await victim.wait_exit(within=10)
            self.kills.append((time.monotonic() - started, kind))
            await asyncio.sleep(self.rng.uniform(0, 2))
            name = f"{kind}-{sum(1 for _, k in self.kills if k == kind) + 1}"
            successor = (
                self.processes.consumer(name) if kind == "consumer" else self.processes.worker(name)
            )
            await self.processes.ready(successor)
            self.current[kind] = successor


async def _processed_orders(db_engine: AsyncEngine, order_ids: list[str]) -> int:
    async with db_engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(DISTINCT o.payload->>'order_id') FROM processed_events p"
                " JOIN outbox_events o ON o.id = p.event_id"
                " WHERE o.payload->>'order_id' = ANY(:ids)"
            ),
            {"ids": order_ids},
        )
    return int(count or 0)


async def _leftovers(db_engine: AsyncEngine, settings: Settings) -> dict[str, int]:
    async with db_engine.connect() as connection:
        outbox = await connection.scalar(
            text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")
        )
        rows = await connection.scalar(text("SELECT count(*) FROM processed_events"))
        events = await connection.scalar(
            text("SELECT count(*) FROM outbox_events WHERE event_type = 'new_order'")
        )
    connection_ = await aio_pika.connect(settings.rabbitmq.url)
    async with connection_:
        channel = await connection_.channel()
        queued = {}
        for name in (amqp.NEW_ORDER_QUEUE, amqp.NEW_ORDER_DEAD_LETTER_QUEUE):
            queue = await channel.declare_queue(name, passive=True)
            queued[name] = int(queue.declaration_result.message_count or 0)
    redis = Redis.from_url(settings.redis.url)
    try:
        stream = int(await redis.xlen(settings.taskiq.stream))
        dead = int(await redis.xlen(f"{settings.taskiq.stream}:dead"))
    finally:
        await redis.aclose()
    return {
        "outbox pending": int(outbox or 0),
        "outbox events": int(events or 0),
        "processed_events rows": int(rows or 0),
        "new_order queue": queued[amqp.NEW_ORDER_QUEUE],
        "dead-letter queue": queued[amqp.NEW_ORDER_DEAD_LETTER_QUEUE],
        "task stream entries": stream,
        "dead task stream": dead,
    }


async def test_soak_every_order_processed_exactly_once_through_kills(
    processes: Processes, pipeline_settings: Settings, db_engine: AsyncEngine
) -> None:
    rng = random.Random(SEED)
    report(
        f"\nsoak: {ORDERS} orders, {CLIENTS} HTTP clients, {KILLS} SIGKILLs each of the consumer "
        f"and the worker, seed {SEED} (SOAK_SEED={SEED} repeats the schedule)"
    )
    api, base_url = processes.api(LOG_LEVEL="WARNING")
    consumer, worker = processes.consumer("consumer-1"), processes.worker("worker-1")
    await processes.ready(api, consumer, worker)

    # Kill moments spread over the first 60% of the expected run, each kind KILLS times.
    kinds = ["consumer"] * KILLS + ["worker"] * KILLS
    rng.shuffle(kinds)
    window = max(20.0, 0.6 * EXPECTED_SECONDS)
    schedule = sorted(zip((rng.uniform(2, window) for _ in kinds), kinds, strict=True))
    chaos = Chaos(processes, {"consumer": consumer, "worker": worker}, rng)
    started = time.monotonic()
    chaos_task = asyncio.create_task(chaos.run(started, schedule))

    orders = await create_orders(base_url, ORDERS, concurrency=CLIENTS)
    created = time.monotonic() - started
    order_ids = [order_id for order_id, _ in orders]
    report(f"  created {len(order_ids)} orders in {created:.1f} s ({ORDERS / created:.0f}/s)")

    deadline = started + 3 * EXPECTED_SECONDS + 180
    last_report = 0.0
    while (done := await _processed_orders(db_engine, order_ids)) < ORDERS:
        now = time.monotonic()
        assert now < deadline, f"only {done}/{ORDERS} processed\n{processes.output()}"
        if now - last_report >= 10:
            report(f"  … {done}/{ORDERS} processed after {now - started:.0f} s")
            last_report = now
        await asyncio.sleep(1)
    finished = time.monotonic() - started
    await chaos_task  # every kill done (the schedule ends well before the work)
    await asyncio.sleep(2)  # stragglers: a redelivered task would print now, if at all

    lines: Counter[str] = Counter()
    for process in processes.started:
        for line in process.lines:
            if match := PROCESSED_LINE.match(line):
                lines[match.group(1)] += 1
    per_order = [lines[order_id] for order_id in order_ids]
    lost = sum(1 for n in per_order if n == 0)
    duplicated = sum(1 for n in per_order if n > 1)
    leftovers = await _leftovers(db_engine, pipeline_settings)
    kills = Counter(kind for _, kind in chaos.kills)

    report(f"  requests: {ORDERS + 2} (orders, plus one register and one token); all answered 201")
    report(
        f"  kills: {sum(kills.values())} (consumer {kills['consumer']}, worker {kills['worker']}) "
        "at " + ", ".join(f"{at:.1f} s {kind}" for at, kind in chaos.kills)
    )
    report(
        f"  processed: {done}/{ORDERS} orders in processed_events; "
        f"'Order <id> processed' lines: {sum(per_order)}"
    )
    report(f"  lost: {lost}, duplicated: {duplicated}")
    report("  left over: " + ", ".join(f"{name} {count}" for name, count in leftovers.items()))
    report(f"  time: all processed {finished:.1f} s after the first request")

    assert lost == 0
    assert duplicated == 0
    assert leftovers["processed_events rows"] == leftovers["outbox events"] == ORDERS
    for name in (
        "outbox pending",
        "new_order queue",
        "dead-letter queue",
        "task stream entries",
        "dead task stream",
    ):
        assert leftovers[name] == 0, name
