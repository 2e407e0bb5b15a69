"""SIGTERM stops the `webhooks` process promptly whatever RabbitMQ does: not answering at all (a
broker that accepts connections and says nothing, as a hung node or a dropped route looks), or gone
after the dispatcher had subscribed."""

from __future__ import annotations

import signal

from yarl import URL

from tests.dispatcher.conftest import dispatcher
from tests.support.processes import Processes
from tests.support.tcp_proxy import TcpProxy

# Well under the connection attempt's own timeout (10 s) and the grace period (5 s).
PROMPTLY = 1.5


def _through(processes: Processes, broker: TcpProxy) -> str:
    return str(URL(processes.env["RABBITMQ_URL"]).with_port(broker.port))


async def test_sigterm_stops_the_dispatcher_while_rabbitmq_does_not_answer(
    processes: Processes,
) -> None:
    broker = TcpProxy("127.0.0.1", URL(processes.env["RABBITMQ_URL"]).port or 5672)
    broker.blackhole()
    await broker.start()
    try:
        webhooks = dispatcher(processes, RABBITMQ_URL=_through(processes, broker))
        await webhooks.wait_for("connecting to RabbitMQ", within=30)

        webhooks.signal(signal.SIGTERM)

        assert await webhooks.wait_exit(within=PROMPTLY) == 0
        assert webhooks.count("webhooks stopped") == 1
    finally:
        await broker.stop()


async def test_sigterm_stops_the_dispatcher_while_rabbitmq_is_gone(processes: Processes) -> None:
    broker = TcpProxy("127.0.0.1", URL(processes.env["RABBITMQ_URL"]).port or 5672)
    await broker.start()
    try:
        webhooks = dispatcher(processes, RABBITMQ_URL=_through(processes, broker))
        await processes.ready(webhooks)
        await broker.stop()
        await webhooks.wait_for("connection lost", within=10)

        webhooks.signal(signal.SIGTERM)

        assert await webhooks.wait_exit(within=PROMPTLY) == 0
        assert webhooks.count("webhooks stopped") == 1
    finally:
        await broker.stop()
