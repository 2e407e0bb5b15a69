"""`make ha-test` (also run by .ci/run): deploy/ha/compose.yaml under a real Docker Engine, one node of
each server SIGKILLed in turn under load and never started again.

In a copy of the working tree, with its own project name, passwords, cluster secrets and API port,
the clustered stack is built and started (the images the compose test uses, stand-ins where no
registry answers: tests/compose/images.py). A client creates orders at a steady pace, each with an
Idempotency-Key, retrying on 503 and connection errors with the same key. Meanwhile, in turn:
1. the RabbitMQ node that leads `new_order` is killed; the survivors elect a new leader;
2. the Redis primary is killed; the Sentinels promote the replica;
3. the PostgreSQL primary is killed; Patroni promotes the standby once the leader key expires.
After each kill the test waits for the engine's own failover, for the API to create orders again and
for the first order created after the kill to be processed, then goes on to the next fault.

Then: no answer was a 500; the API created orders again within 30 s of each kill; every order the
client saw created is stored exactly once and processed exactly once (one `Order <id> processed`
line across the workers) within two minutes of the last kill; the killed nodes stayed dead. The
figures (orders, retries, the window each fault cost) are printed; docs/ha.md keeps the last run's.

The file name keeps pytest from collecting it in `make test`; the Makefile names it explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.compose.images import compose_images, ensure_images
from tests.compose.stack import ROOT, Stack, copy_working_tree, run, set_variable
from tests.e2e.test_redis_failover import PASSWORD, Client
from tests.support.polling import until
from tests.support.processes import free_port

COMPOSE_FILE = "deploy/ha/compose.yaml"
PROJECT = "orders-ha-test"
SECRETS = (
    "POSTGRES_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
    "REDIS_PASSWORD",
    "METRICS_TOKEN",
    "RABBITMQ_ERLANG_COOKIE",
    "PATRONI_SUPERUSER_PASSWORD",
    "PATRONI_REPLICATION_PASSWORD",
)
# Build (warm: cached) and boot: RabbitMQ's nodes start one after the other, Patroni bootstraps.
HEALTHY_WITHIN = 900.0
# What the HA stack promises: the API creates orders again within 30 s of each kill, and every order is
# processed within two minutes of the last one.
BACK_WITHIN = 30.0
PROCESSED_WITHIN = 120.0
# How long each engine's own failover may take before the test gives up on it.
FAILOVER_WITHIN = 90.0
# A task the dead Redis primary took with it is published again this long after its first publication
# (PROCESSING_DEADLINE_SECONDS, 300 by default: beyond the two minutes).
PROCESSING_DEADLINE_SECONDS = "30"


@dataclass
class Fault:
    server: str
    node: str
    killed_at: float
    retried_before: int
    answered_503_before: int
    failover: float = math.nan
    # The longest pause between two orders created across the kill: how long the API was unavailable.
    window: float = math.nan
    processed: float = math.nan
    retried: int = 0
    answered_503: int = 0

    def __str__(self) -> str:
        return (
            f"{self.server} ({self.node} killed): failover {self.failover:.1f}s, no order created "
            f"for {self.window:.1f}s, the first order after the kill processed after "
            f"{self.processed:.1f}s; {self.retried} request(s) retried ({self.answered_503} "
            f"answered 503)"
        )


@dataclass
class Run:
    api: str
    timings: dict[str, float]
    faults: list[Fault]
    client: Client | None = None


@pytest.fixture(scope="module")
def ha(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[tuple[Stack, Run]]:
    started = time.monotonic()
    images = ensure_images(compose_images(ROOT / COMPOSE_FILE))
    directory = tmp_path_factory.mktemp("ha")
    copy_working_tree(directory)
    port = free_port()
    env = (directory / ".env.example").read_text()
    for name in SECRETS:
        env = set_variable(env, name, secrets.token_hex(12))
    env = set_variable(env, "API_PORT", str(port))
    # One user creates every order.
    env = set_variable(env, "RATE_LIMIT_DEFAULT", "100000/minute")
    env = set_variable(env, "PROCESSING_DEADLINE_SECONDS", PROCESSING_DEADLINE_SECONDS)
    (directory / ".env").write_text(env)
    (directory / ".secret_key").mkdir()
    run(["openssl", "genrsa", "-out", ".secret_key/jwt-private.pem", "2048"], cwd=directory)
    run(
        [
            "openssl",
            "rsa",
            "-in",
            ".secret_key/jwt-private.pem",
            "-pubout",
            "-out",
            ".secret_key/jwt-public.pem",
        ],
        cwd=directory,
    )
    stack = Stack(directory, project=PROJECT, files=("-f", COMPOSE_FILE, "--env-file", ".env"))
    # A run killed half-way may have left the project.
    stack.compose("down", "-v", "--remove-orphans")
    state = Run(
        api=f"http://127.0.0.1:{port}", timings={"images": time.monotonic() - started}, faults=[]
    )
    try:
        yield stack, state
    finally:
        # Every container's output, kept with the run's files for whoever reads a failure.
        logs = directory / "ha-stack.log"
        logs.write_text(stack.compose("logs", "--no-color", "--timestamps"))
        stack.compose("down", "-v", "--remove-orphans")
        made = ", ".join(f"{image}: {how}" for image, how in images.items())
        figures = ", ".join(f"{what} {seconds:.0f}s" for what, seconds in state.timings.items())
        lines = [f"ha-test images: {made}", f"ha-test timings: {figures}", f"ha-test logs: {logs}"]
        if state.client is not None:
            client = state.client
            lines.append(
                f"ha-test: {len(client.created)} orders created, {client.retried} request(s) "
                f"retried ({client.statuses.count(503)} answered 503, the rest connection "
                f"errors), {client.statuses.count(500)} answered 500"
            )
        lines += [f"ha-test: {fault}" for fault in state.faults]
        lines.append(f"ha-test load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            sys.stderr.write("\n" + "\n".join(lines) + "\n")


def new_order_queue(stack: Stack, *, asking: str) -> tuple[str, list[str]]:
    """`new_order`'s leader and members, as `rabbitmqctl list_queues` on the node `asking` says."""
    out = stack.compose(
        "exec",
        "-T",
        asking,
        "rabbitmqctl",
        "list_queues",
        "name",
        "leader",
        "members",
        "--formatter",
        "json",
    )
    [row] = [row for row in json.loads(out) if row["name"] == "new_order"]
    return str(row["leader"]), [str(member) for member in row["members"]]


def redis_primary(stack: Stack, *, asking: str) -> str | None:
    """The node (compose service) the Sentinel `asking` names as the primary. Sentinels know the
    nodes by address: None while that address is no running node's."""
    out = stack.compose(
        "exec",
        "-T",
        asking,
        "redis-cli",
        "-p",
        "26379",
        "sentinel",
        "get-master-addr-by-name",
        "orders",
    )
    address = out.split()[0]
    for node in ("redis1", "redis2"):
        for container in stack.inspect(*stack.containers(node)):
            networks = container["NetworkSettings"]["Networks"].values()
            if address in (network["IPAddress"] for network in networks):
                return node
    return None


def postgres_leader(stack: Stack, *, asking: str) -> str | None:
    """The member Patroni (asked on node `asking`) holds as its leader, running."""
    out = stack.compose(
        "exec", "-T", asking, "patronictl", "-c", "/etc/patroni/patroni.yml", "list", "-f", "json"
    )
    leaders = [
        m["Member"] for m in json.loads(out) if m["Role"] == "Leader" and m["State"] == "running"
    ]
    return leaders[0] if leaders else None


async def _answers(question: Callable[[], object]) -> object:
    """The answer, or None while the node asked cannot answer (electing, starting)."""
    try:
        return await asyncio.to_thread(question)
    except AssertionError:
        return None


async def test_one_node_of_each_server_killed_under_load_loses_no_order_and_answers_no_500(
    ha: tuple[Stack, Run],
) -> None:
    stack, state = ha
    started = time.monotonic()
    await asyncio.to_thread(stack.compose, "up", "--build", "-d", timeout=HEALTHY_WITHIN)
    await asyncio.to_thread(stack.wait_healthy, within=HEALTHY_WITHIN)
    state.timings["up --build"] = time.monotonic() - started
    leader, members = new_order_queue(stack, asking="mq1")
    assert sorted(members) == ["rabbit@mq1", "rabbit@mq2", "rabbit@mq3"]

    async with httpx.AsyncClient(base_url=state.api, timeout=15) as http:
        email = f"ha-{uuid.uuid4().hex[:8]}@example.com"
        registered = await http.post("/register/", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        token = await http.post("/token", data={"username": email, "password": PASSWORD})
    client = Client(state.api, {"Authorization": f"Bearer {token.json()['access_token']}"})
    state.client = client
    stop = asyncio.Event()
    load = asyncio.create_task(client.run(stop))

    async def created(count: int) -> bool:
        return len(client.created) >= count

    async def kill(server: str, node: str, failed_over: Callable[[], Awaitable[bool]]) -> None:
        """SIGKILL `node`, then wait for the failover, the API and the pipeline."""
        fault = Fault(server, node, time.monotonic(), client.retried, client.statuses.count(503))
        state.faults.append(fault)
        await asyncio.to_thread(stack.compose, "kill", "-s", "SIGKILL", node)
        await until(failed_over, within=FAILOVER_WITHIN, what=f"{server} failed over")
        fault.failover = time.monotonic() - fault.killed_at

        def after_kill() -> list[str]:
            return [
                order_id
                for order_id, at in zip(client.created, client.created_at, strict=True)
                if at > fault.killed_at
            ]

        async def back() -> bool:
            return len(after_kill()) >= 10

        await until(back, within=FAILOVER_WITHIN, what=f"10 orders created after the {server} kill")
        first = after_kill()[0]
        around = [at for at in client.created_at if at <= fault.killed_at][-1:] + [
            at for at in client.created_at if at > fault.killed_at
        ][:10]
        fault.window = max(later - earlier for earlier, later in itertools.pairwise(around))

        async def first_processed() -> bool:
            return (await asyncio.to_thread(stack.processed))[first] > 0

        await until(
            first_processed,
            within=PROCESSED_WITHIN,
            what=f"an order after the {server} kill processed",
        )
        fault.processed = time.monotonic() - fault.killed_at
        fault.retried = client.retried - fault.retried_before
        fault.answered_503 = client.statuses.count(503) - fault.answered_503_before

    try:
        await until(lambda: created(20), within=60, what="20 orders")

        leader = leader.removeprefix("rabbit@")
        survivor = next(node for node in ("mq1", "mq2", "mq3") if node != leader)

        async def new_leader() -> bool:
            queue = await _answers(lambda: new_order_queue(stack, asking=survivor))
            return isinstance(queue, tuple) and queue[0] not in ("", f"rabbit@{leader}")

        await kill("rabbitmq", leader, new_leader)

        primary = redis_primary(stack, asking="sentinel1")
        assert primary is not None, "the Sentinels name no running Redis node"

        async def promoted() -> bool:
            return await _answers(lambda: redis_primary(stack, asking="sentinel1")) not in (
                None,
                primary,
            )

        await kill("redis", primary, promoted)

        pg_leader = postgres_leader(stack, asking="pg1")
        assert pg_leader in ("pg1", "pg2")
        standby = "pg2" if pg_leader == "pg1" else "pg1"

        async def patroni_promoted() -> bool:
            return await _answers(lambda: postgres_leader(stack, asking=standby)) == standby

        await kill("postgres", pg_leader, patroni_promoted)
    finally:
        stop.set()
        await load
    last_kill = state.faults[-1].killed_at

    assert 500 not in client.statuses
    assert len(set(client.created)) == len(client.created)
    for fault in state.faults:
        assert fault.window <= BACK_WITHIN, fault
    within = max(1.0, last_kill + PROCESSED_WITHIN - time.monotonic())
    counts = await asyncio.to_thread(stack.wait_processed, client.created, within=within)
    state.timings["all processed after the last kill"] = time.monotonic() - last_kill
    assert {counts[order_id] for order_id in client.created} == {1}
    stored = stack.compose(
        "exec", "-T", standby, "psql", "-d", "orders", "-Atc", "SELECT id FROM orders"
    ).split()
    assert sorted(stored) == sorted(client.created)
    for fault in state.faults:
        [container] = stack.inspect(*stack.containers(fault.node))
        assert not container["State"]["Running"], fault.node
