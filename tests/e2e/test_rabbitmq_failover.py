"""A real RabbitMQ failover under load: a cluster of three nodes (local rabbitmq-server nodes of their
own, on free ports, beside the shared one), `new_order` a quorum queue on all three, the relay and
the consumer given every node (RABBITMQ_URLS), a client creating orders with an Idempotency-Key. The
node that leads `new_order` is SIGKILLed and never comes back; the survivors elect a new leader.

Then: no answer was a 500, every order the client saw created is processed exactly once (none lost
in the dead node), and no process restarted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_faults import _processed_once
from tests.e2e.test_redis_failover import PASSWORD, Client
from tests.support.polling import until
from tests.support.processes import Processes, free_port

logger = logging.getLogger(__name__)

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")

pytestmark = pytest.mark.skipif(
    not (RABBITMQ_BIN / "rabbitmq-server").exists(),
    reason="needs RabbitMQ's server (Debian package rabbitmq-server)",
)


@dataclass
class Node:
    name: str
    port: int
    home: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"


@dataclass
class Cluster:
    root: Path
    nodes: list[Node] = field(default_factory=list)

    def env(self, node: Node) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            # The cookie the three nodes (and rabbitmqctl) share: $HOME/.erlang.cookie.
            "HOME": str(self.root),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(node.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(node.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.home / "log"),
            "RABBITMQ_PID_FILE": str(node.home / "pid"),
            # A SIGKILLed node's Erlang VM may leave a crash dump; keep it out of the checkout.
            "ERL_CRASH_DUMP": str(node.home / "erl_crash.dump"),
        }

    async def ctl(self, *argv: str, node: Node | None = None, tool: str = "rabbitmqctl") -> str:
        target = node or self.nodes[0]
        process = await asyncio.create_subprocess_exec(
            str(RABBITMQ_BIN / tool),
            "-n",
            target.name,
            *argv,
            env=self.env(target),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        assert process.returncode == 0, (argv, out.decode())
        return out.decode()

    async def start(self, node: Node) -> None:
        node.home.mkdir(parents=True)
        node.process = await asyncio.create_subprocess_exec(
            str(RABBITMQ_BIN / "rabbitmq-server"),
            env=self.env(node),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        # Waits for the pid file, then for the node to finish booting (about 25 s on a busy VM).
        await self.ctl("wait", str(node.home / "pid"), "--timeout", "240", node=node)

    def kill(self, node: Node) -> None:
        """SIGKILL the node's Erlang VM (its pid file), then the script that started it."""
        pid = int((node.home / "pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        if node.process is not None and node.process.returncode is None:
            node.process.kill()

    async def leader(self, queue: str, *, asking: Node) -> str:
        out = await self.ctl(
            "list_queues", "name", "leader", "members", "--formatter", "json", node=asking
        )
        [row] = [row for row in json.loads(out) if row["name"] == queue]
        assert len(row["members"]) == 3, row
        return str(row["leader"])

    async def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.returncode is None:
                pid_file = node.home / "pid"
                if pid_file.exists():
                    with suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
                node.process.kill()
                await node.process.wait()


@asynccontextmanager
async def _cluster() -> AsyncIterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="orders-mq-ha-"))
    tag = uuid.uuid4().hex[:6]
    cluster = Cluster(root)
    cluster.nodes = [
        Node(f"orders-ha-{tag}-{n}@localhost", free_port(), root / f"node{n}") for n in (1, 2, 3)
    ]
    cookie = root / ".erlang.cookie"
    cookie.write_text(uuid.uuid4().hex.upper())
    cookie.chmod(0o400)
    (root / "rabbitmq-env.conf").write_text("ERL_EPMD_ADDRESS=127.0.0.1\n")
    (root / "advanced.config").write_text("[].\n")
    (root / "enabled_plugins").write_text("[].\n")
    (root / "rabbitmq.conf").write_text(
        "cluster_formation.peer_discovery_backend = classic_config\n"
        + "".join(
            f"cluster_formation.classic_config.nodes.{n} = {node.name}\n"
            for n, node in enumerate(cluster.nodes, start=1)
        )
        + "log.console = false\nlog.file.level = warning\n"
    )
    try:
        await cluster.start(cluster.nodes[0])
        await asyncio.gather(*(cluster.start(node) for node in cluster.nodes[1:]))
        status = json.loads(await cluster.ctl("cluster_status", "--formatter", "json"))
        assert len(status["running_nodes"]) == 3, status
        yield cluster
    finally:
        await cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_killing_the_new_order_leader_node_under_load_loses_no_order(
    processes: Processes,
) -> None:
    async with _cluster() as cluster:
        nodes = ",".join(node.url for node in cluster.nodes)
        api, base_url = processes.api(RABBITMQ_URLS=nodes)
        consumer = processes.consumer(RABBITMQ_URLS=nodes)
        worker = processes.worker()
        await processes.ready(api, consumer, worker)
        await api.wait_for("relay connected to RabbitMQ", within=20)

        async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
            email = f"ha-{uuid.uuid4().hex[:8]}@example.com"
            registered = await http.post("/register/", json={"email": email, "password": PASSWORD})
            assert registered.status_code == 201, registered.text
            token = await http.post("/token", data={"username": email, "password": PASSWORD})
        client = Client(base_url, {"Authorization": f"Bearer {token.json()['access_token']}"})
        stop = asyncio.Event()
        load = asyncio.create_task(client.run(stop))

        async def created(count: int) -> bool:
            return len(client.created) >= count

        try:
            await until(lambda: created(10), within=60, what="10 orders")
            leader_name = await cluster.leader("new_order", asking=cluster.nodes[0])
            [leader] = [node for node in cluster.nodes if node.name == leader_name]
            survivor = next(node for node in cluster.nodes if node is not leader)
            cluster.kill(leader)  # never restarted
            killed_at = time.monotonic()

            async def new_leader() -> bool:
                try:
                    return await cluster.leader("new_order", asking=survivor) != leader_name
                except AssertionError:
                    return False

            await until(new_leader, within=60, what="a new leader of new_order")
            elected_after = time.monotonic() - killed_at
            at_election = len(client.created)
            await until(lambda: created(at_election + 10), within=60, what="10 more orders")
        finally:
            stop.set()
            await load

        assert 500 not in client.statuses
        assert len(set(client.created)) == len(client.created)
        after_kill = [
            order_id
            for order_id, at in zip(client.created, client.created_at, strict=True)
            if at > killed_at
        ]
        await _processed_once([worker], after_kill[:1], within=120)
        first_processed_after = time.monotonic() - killed_at
        await _processed_once([worker], client.created, within=120)
        for process in (api, consumer, worker):
            assert process.popen.poll() is None
        logger.info(
            "rabbitmq failover: %d orders created, %d retried, no 500; new_order's leader %s "
            "killed, a new one elected %.1fs later; the first order created after the kill "
            "processed within %.1fs of it; every order processed once",
            len(client.created),
            client.retried,
            leader_name,
            elected_after,
            first_processed_after,
        )
