"""One order, one trace: the api, the consumer and the worker, real processes, each printing its spans
(OTEL_TRACES_EXPORTER=console) and its JSON log lines, which must add up to one tree of spans."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from typing import Any

from tests.support.pipeline import create_orders
from tests.support.processes import ManagedProcess, Processes

# Spans leave each process within a tenth of a second (the SDK's default batch delay is 5 s).
TRACED = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "100", "LOG_FORMAT": "json"}
PASSWORD = "tracing-pw-5ecret"
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def spans(process: ManagedProcess) -> list[dict[str, Any]]:
    """The spans the console exporter printed (one JSON object per line)."""
    found = []
    for line in process.lines:
        if line.startswith('{"name"'):
            span = json.loads(line)
            if "context" in span:
                found.append(span)
    return found


def log_lines(process: ManagedProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in process.lines if line.startswith('{"time"')]


async def wait_for_span(
    process: ManagedProcess, name: str, trace_id: str, *, within: float
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        for span in spans(process):
            if span["name"] == name and span["context"]["trace_id"] == trace_id:
                return span
        if time.monotonic() > deadline:
            names = sorted({span["name"] for span in spans(process)})
            msg = f"{process.name}: no span {name!r} in trace {trace_id} (spans: {names})\n"
            raise AssertionError(msg + process.output())
        await asyncio.sleep(0.05)


async def test_one_order_is_one_trace_from_the_client_to_the_worker(processes: Processes) -> None:
    api, base_url = processes.api(**TRACED)
    consumer = processes.consumer(**TRACED)
    worker = processes.worker(**TRACED)
    await processes.ready(api, consumer, worker)
    client_trace, client_span = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = f"00-{client_trace}-{client_span}-01"

    [(order_id, _)] = await create_orders(
        base_url, 1, headers={"traceparent": traceparent}, password=PASSWORD
    )

    trace_id = f"0x{client_trace}"
    request = await wait_for_span(api, "POST /orders/", trace_id, within=5)
    publish = await wait_for_span(api, "outbox publish", trace_id, within=5)
    execution = await wait_for_span(worker, "execute/orders.process_new_order", trace_id, within=10)
    await wait_for_span(consumer, "send/orders.process_new_order", trace_id, within=5)
    await worker.wait_for(f"^Order {order_id} processed$", within=2)

    # The client's span is the request's parent: its trace is continued, not restarted.
    assert request["parent_id"] == f"0x{client_span}"
    assert request["attributes"]["orders.order_id"] == order_id
    assert publish["attributes"]["orders.order_id"] == order_id
    assert execution["attributes"]["orders.order_id"] == order_id
    # The relay's pass is a trace of its own, linked from the publish span.
    [link] = publish["links"]
    relay_pass = next(
        s for s in spans(api) if s["context"]["span_id"] == link["context"]["span_id"]
    )
    assert relay_pass["name"] == "outbox relay pass"

    # Every span of the trace hangs from another span of it, up to the client's: one tree. (A parent
    # ends, and is exported, after its children: the last ones may still be on their way.)
    deadline = time.monotonic() + 5
    while True:
        in_trace = {
            process.name: [s for s in spans(process) if s["context"]["trace_id"] == trace_id]
            for process in (api, consumer, worker)
        }
        everything = [span for found in in_trace.values() for span in found]
        ids = {span["context"]["span_id"] for span in everything} | {f"0x{client_span}"}
        orphans = [span["name"] for span in everything if span["parent_id"] not in ids]
        if not orphans or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert orphans == [], processes.output()
    services = {span["resource"]["attributes"]["service.name"] for span in everything}
    assert services == {"orders-api", "orders-consumer", "orders-worker"}

    # The log lines of the order lead to the trace, in both the consumer and the worker.
    for process, message in ((consumer, "task enqueued"), (worker, "processed")):
        lines = [
            line for line in log_lines(process) if f"order {order_id}: {message}" in line["message"]
        ]
        assert lines, process.output()
        assert {line["trace_id"] for line in lines} == {client_trace}
        span_ids = {span["context"]["span_id"] for span in in_trace[process.name]}
        assert {f"0x{line['span_id']}" for line in lines} <= span_ids

    # No span anywhere holds the password, a token or an Authorization header.
    for process in (api, consumer, worker):
        for span in spans(process):
            for key, value in span["attributes"].items():
                assert "authorization" not in key.lower(), span
                assert "password" not in key.lower(), span
                assert PASSWORD not in str(value), span
                assert "Bearer" not in str(value), span
                assert not JWT.search(str(value)), span


async def test_untraced_processes_print_no_spans_and_log_no_trace_ids(
    processes: Processes,
) -> None:
    api, base_url = processes.api(LOG_FORMAT="json")
    consumer = processes.consumer(LOG_FORMAT="json")
    worker = processes.worker(LOG_FORMAT="json")
    await processes.ready(api, consumer, worker)
    traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"

    [(order_id, _)] = await create_orders(base_url, 1, headers={"traceparent": traceparent})

    await worker.wait_for(f"^Order {order_id} processed$", within=5)
    for process in (api, consumer, worker):
        assert spans(process) == [], process.output()
        assert all("trace_id" not in line for line in log_lines(process)), process.output()
