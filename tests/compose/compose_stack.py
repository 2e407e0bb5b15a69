"""`make compose-test` (also run by .ci/run): docker-compose.yml under a real Docker Engine, end to end.

In a copy of the working tree it runs the README's compose steps as written there (the test reads
them from the README): `cp .env.example .env`, the passwords set, the spec's two `openssl` commands,
`docker compose up --build`. It adds only what a test needs: its own project name (`-p`), `-d` to go
on while the stack runs, free host ports in `.env`, and a per-user rate limit high enough for one
user to create the 200 orders of the burst. Every image the compose file names is the real one where
it can be pulled, else a stand-in built from Debian (tests/compose/images.py).

Then, in order (each test builds on the one before):
1. every service healthy; the private key readable by the api's app user alone, without a chmod;
2. through the published API port: register, token, create, read twice (HIT), PAID, list, GraphQL me;
3. the worker prints `Order <id> processed` once; 4. the admin UIs answer on 127.0.0.1;
5. every log line of the app containers is JSON (the spec's `Order … processed` aside, on stdout);
6. scaled to 3 workers and 2 consumers, 200 orders, every worker SIGKILLed and the api restarted in
   the middle: each order processed exactly once (one processed_events row, one line);
7. SIGTERM (`stop`) ends every container within its grace period; after `down` and `up` (Debian's
   docker-compose 1.29 this time) users and orders are still there, and a `new_order` message queued
   while the consumer was stopped is processed; 8. `down -v` leaves nothing behind.

The file name keeps pytest from collecting it in `make test`; the Makefile names it explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.compose.images import compose_images, ensure_images
from tests.compose.stack import ROOT, Stack, copy_working_tree, run, set_variable
from tests.conftest import order_body
from tests.support.processes import free_port

BURST_ORDERS = 200
# After the images are built: the slowest server (RabbitMQ) takes about half a minute.
HEALTHY_WITHIN = 240.0
PROCESSED_WITHIN = 120.0
ADMIN_UIS = {
    "rabbitmq": "RABBITMQ_UI_PORT",
    "pgadmin": "PGADMIN_PORT",
    "redisinsight": "REDISINSIGHT_PORT",
}
PASSWORDS = (
    "POSTGRES_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
    "REDIS_PASSWORD",
    "PGADMIN_DEFAULT_PASSWORD",
    "METRICS_TOKEN",
)


def readme_compose_steps() -> list[str]:
    """The shell lines of the README's "Docker Compose" section, comments dropped."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Docker Compose") :]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


@dataclass
class Shared:
    """What the tests hand on to the next ones."""

    ports: dict[str, int]
    api: str
    timings: dict[str, float] = field(default_factory=dict)
    email: str = ""
    password: str = "s3cret-password"
    user_id: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    first_order: str = ""


@pytest.fixture(scope="module")
def shared() -> Shared:
    ports = {name: free_port() for name in ("API_PORT", *ADMIN_UIS.values())}
    return Shared(ports=ports, api=f"http://127.0.0.1:{ports['API_PORT']}")


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, shared: Shared, pytestconfig: pytest.Config
) -> Iterator[Stack]:
    started = time.monotonic()
    images = ensure_images(compose_images(ROOT / "docker-compose.yml"))
    shared.timings["images"] = time.monotonic() - started
    directory = tmp_path_factory.mktemp("compose")
    copy_working_tree(directory)
    steps = readme_compose_steps()
    assert steps == [
        "cp .env.example .env",
        "mkdir -p .secret_key",
        "openssl genrsa -out .secret_key/jwt-private.pem 2048",
        "openssl rsa -in .secret_key/jwt-private.pem -pubout -out .secret_key/jwt-public.pem",
        "docker compose up --build",
    ]
    run(["sh", "-c", steps[0]], cwd=directory)
    env = (directory / ".env").read_text()
    for name in PASSWORDS:
        env = set_variable(env, name, secrets.token_hex(12))
    for name, port in shared.ports.items():
        env = set_variable(env, name, str(port))
    env = set_variable(env, "RATE_LIMIT_DEFAULT", "1000/minute")
    (directory / ".env").write_text(env)
    for step in steps[1:4]:
        run(["sh", "-c", step], cwd=directory)
    stack = Stack(directory)
    # A run killed half-way, or an engine restarted with its containers, may have left the project.
    stack.compose("down", "-v", "--remove-orphans")
    try:
        yield stack
    finally:
        stack.compose("down", "-v", "--remove-orphans")
        made = ", ".join(f"{image}: {how}" for image, how in images.items())
        figures = ", ".join(f"{what} {seconds:.0f}s" for what, seconds in shared.timings.items())
        capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            sys.stderr.write(f"\ncompose-test images: {made}\ncompose-test timings: {figures}\n")


# --- 1. up ----------------------------------------------------------------------------------------


def test_the_readme_steps_bring_every_service_to_healthy(stack: Stack, shared: Shared) -> None:
    started = time.monotonic()
    stack.compose("up", "--build", "-d")
    stack.wait_healthy(within=HEALTHY_WITHIN)
    shared.timings["up --build"] = time.monotonic() - started

    services = {
        str(c["Config"]["Labels"]["com.docker.compose.service"])
        for c in stack.inspect(*stack.containers())
    }
    assert services == {
        "api",
        "consumer",
        "worker",
        "webhooks",
        "postgres",
        "redis",
        "rabbitmq",
        "pgadmin",
        "redisinsight",
    }


def test_only_the_apis_app_user_can_read_the_private_key_and_nothing_was_chmodded(
    stack: Stack,
) -> None:
    host_key = stack.directory / ".secret_key/jwt-private.pem"
    assert stat.S_IMODE(host_key.stat().st_mode) == 0o600  # as openssl wrote it

    in_api = stack.compose(
        "exec",
        "-T",
        "api",
        "sh",
        "-c",
        "stat -c '%U %a' /run/keys/jwt-private.pem; grep '^Uid:' /proc/1/status",
    )
    owner, uid = in_api.splitlines()
    assert owner == "orders 400"
    assert uid.split()[1:] == ["10001"] * 4  # uvicorn runs as the app user, root dropped
    for service in ("consumer", "worker", "webhooks"):
        stack.compose(
            "exec", "-T", service, "sh", "-c", "test ! -e /run/keys && test ! -e /run/secrets"
        )


def test_only_the_api_is_published_on_every_interface(stack: Stack, shared: Shared) -> None:
    published: dict[str, set[tuple[str, int]]] = {}
    for container in stack.inspect(*stack.containers()):
        service = container["Config"]["Labels"]["com.docker.compose.service"]
        for bindings in (container["NetworkSettings"]["Ports"] or {}).values():
            for binding in bindings or []:
                published.setdefault(service, set()).add(
                    (binding["HostIp"], int(binding["HostPort"]))
                )

    assert set(published) == {"api", "rabbitmq", "pgadmin", "redisinsight"}
    for service, variable in ADMIN_UIS.items():
        assert published[service] == {("127.0.0.1", shared.ports[variable])}
    assert ("0.0.0.0", shared.ports["API_PORT"]) in published["api"]  # noqa: S104


# --- 2-4. the API, the pipeline, the admin UIs ----------------------------------------------------


async def test_the_api_answers_through_its_published_port(stack: Stack, shared: Shared) -> None:
    shared.email = f"compose-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(base_url=shared.api, timeout=10) as client:
        registered = await client.post(
            "/register/", json={"email": shared.email, "password": shared.password}
        )
        assert registered.status_code == 201, registered.text
        shared.user_id = registered.json()["id"]
        token = await client.post(
            "/token", data={"username": shared.email, "password": shared.password}
        )
        assert token.status_code == 200, token.text
        shared.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

        created = await client.post(
            "/orders/",
            json=order_body(),
            headers={**shared.headers, "X-Request-ID": "compose-test-order"},
        )
        assert created.status_code == 201, created.text
        shared.first_order = created.json()["id"]
        first = await client.get(f"/orders/{shared.first_order}/", headers=shared.headers)
        second = await client.get(f"/orders/{shared.first_order}/", headers=shared.headers)
        paid = await client.patch(
            f"/orders/{shared.first_order}/", json={"status": "PAID"}, headers=shared.headers
        )
        listed = await client.get(f"/orders/user/{shared.user_id}/", headers=shared.headers)
        me = await client.post(
            "/graphql", json={"query": "{ me { id email } }"}, headers=shared.headers
        )

    assert first.status_code == 200
    assert second.headers["X-Cache"] == "HIT"
    assert second.json()["total_price"] == "17.00"
    assert paid.status_code == 200
    assert paid.json()["status"] == "PAID"
    assert [order["id"] for order in listed.json()] == [shared.first_order]
    assert listed.json()[0]["status"] == "PAID"
    assert me.json()["data"] == {"me": {"id": shared.user_id, "email": shared.email}}


def test_the_worker_processes_the_order_exactly_once(stack: Stack, shared: Shared) -> None:
    counts = stack.wait_processed([shared.first_order], within=30)

    assert counts[shared.first_order] == 1


async def test_the_admin_uis_answer_on_localhost(stack: Stack, shared: Shared) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        rabbitmq = await client.get(f"http://127.0.0.1:{shared.ports['RABBITMQ_UI_PORT']}/")
        pgadmin = await client.get(f"http://127.0.0.1:{shared.ports['PGADMIN_PORT']}/misc/ping")
        redisinsight = await client.get(f"http://127.0.0.1:{shared.ports['REDISINSIGHT_PORT']}/")

    assert rabbitmq.status_code == 200
    assert "RabbitMQ Management" in rabbitmq.text
    assert pgadmin.status_code == 200
    assert redisinsight.status_code == 200


def test_every_log_line_of_the_app_containers_is_json(stack: Stack, shared: Shared) -> None:
    for service in ("api", "consumer", "worker", "webhooks"):
        logs = stack.logs(service)
        records = [json.loads(line) for line in logs.stderr]  # any other line fails here
        assert records, service
        assert all(
            {"time", "level", "logger", "message", "correlation_id"} <= set(r) for r in records
        )
        # stdout carries only the spec's own line.
        assert all(re.fullmatch(r"Order [0-9a-f-]{36} processed", line) for line in logs.stdout)
    api = [json.loads(line) for line in stack.logs("api").stderr]
    assert {record["logger"] for record in api} >= {
        "alembic.runtime.migration",
        "uvicorn.error",
        "uvicorn.access",
    }
    worker = [json.loads(line) for line in stack.logs("worker").stderr]
    assert any(
        record["correlation_id"] == "compose-test-order" and shared.first_order in record["message"]
        for record in worker
    )


# --- 6. scale, burst, SIGKILL, restart ------------------------------------------------------------


async def _create_with_retries(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """One order, retried with its Idempotency-Key while the api restarts: created exactly once."""
    key = str(uuid.uuid4())
    deadline = time.monotonic() + 120
    while True:
        try:
            response = await client.post(
                "/orders/", json=order_body(), headers={**headers, "Idempotency-Key": key}
            )
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 201:
            order_id: str = response.json()["id"]
            return order_id
        if response is not None and response.status_code < 500:
            msg = f"order refused: {response.status_code} {response.text}"
            raise AssertionError(msg)
        if time.monotonic() > deadline:
            msg = "the api did not come back within 120s"
            raise AssertionError(msg)
        await asyncio.sleep(0.2)


async def test_scaled_burst_with_workers_killed_and_the_api_restarted_loses_nothing(
    stack: Stack, shared: Shared
) -> None:
    stack.compose("up", "-d", "--scale", "worker=3", "--scale", "consumer=2")
    stack.wait_healthy(within=HEALTHY_WITHIN)
    assert len(stack.containers("worker")) == 3
    assert len(stack.containers("consumer")) == 2

    started = time.monotonic()
    created: list[str] = []
    gate = asyncio.Semaphore(16)
    # Set when a quarter, then half, of the orders are created: the moments to break things.
    quarter, half = asyncio.Event(), asyncio.Event()

    async def create(client: httpx.AsyncClient) -> None:
        async with gate:
            created.append(await _create_with_retries(client, shared.headers))
        if len(created) >= BURST_ORDERS // 4:
            quarter.set()
        if len(created) >= BURST_ORDERS // 2:
            half.set()

    async def disrupt() -> None:
        await quarter.wait()
        await asyncio.to_thread(stack.compose, "kill", "-s", "SIGKILL", "worker")
        await asyncio.to_thread(stack.compose, "start", "worker")
        await half.wait()
        await asyncio.to_thread(stack.compose, "restart", "api")

    async with httpx.AsyncClient(base_url=shared.api, timeout=10) as client:
        await asyncio.gather(disrupt(), *(create(client) for _ in range(BURST_ORDERS)))

    assert len(set(created)) == BURST_ORDERS
    counts = await asyncio.to_thread(stack.wait_processed, created, within=PROCESSED_WITHIN)
    shared.timings["burst processed"] = time.monotonic() - started
    assert {counts[order_id] for order_id in created} == {1}
    processed_once = stack.psql(
        "SELECT count(*) FROM orders o WHERE (SELECT count(*) FROM processed_events p"
        " JOIN outbox_events e ON e.id = p.event_id"
        " WHERE e.payload->>'order_id' = o.id::text) = 1"
    )
    assert int(processed_once) == BURST_ORDERS + 1


# --- 7-8. SIGTERM, down/up, down -v ---------------------------------------------------------------


def wait_queued(stack: Stack, *, within: float) -> None:
    """Until the outbox is empty and its one event waits in the new_order queue."""
    deadline = time.monotonic() + within
    while (
        stack.psql("SELECT count(*) FROM outbox_events WHERE published_at IS NULL") != "0"
        or _new_order_messages(stack) != 1
    ):
        assert time.monotonic() < deadline, "the order's event never reached the new_order queue"
        time.sleep(0.5)


def _new_order_messages(stack: Stack) -> int:
    queues = stack.compose(
        "exec", "-T", "rabbitmq", "rabbitmqctl", "-q", "list_queues", "name", "messages"
    )
    counts = dict(line.split() for line in queues.splitlines() if line.strip())
    return int(counts["new_order"])


async def test_stop_down_and_up_keep_users_orders_and_queued_messages(
    stack: Stack, shared: Shared
) -> None:
    stack.compose("stop", "consumer")
    async with httpx.AsyncClient(base_url=shared.api, timeout=10) as client:
        queued = (await client.post("/orders/", json=order_body(), headers=shared.headers)).json()[
            "id"
        ]
    await asyncio.to_thread(wait_queued, stack, within=30)

    started = time.monotonic()
    stack.compose("stop")
    stopping = time.monotonic() - started
    shared.timings["stop"] = stopping
    exits = {
        str(container["Name"]): container["State"]["ExitCode"]
        for container in stack.inspect(*stack.containers())
    }
    # 137 would be the SIGKILL that follows an expired stop_grace_period.
    assert 137 not in exits.values(), exits
    assert stopping < 30

    stack.compose("down")
    assert stack.leftovers()["containers"] == []
    started = time.monotonic()
    stack.compose_v1("up", "--build", "-d")
    stack.wait_healthy(within=HEALTHY_WITHIN)
    shared.timings["docker-compose up again"] = time.monotonic() - started

    async with httpx.AsyncClient(base_url=shared.api, timeout=10) as client:
        token = await client.post(
            "/token", data={"username": shared.email, "password": shared.password}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        first = await client.get(f"/orders/{shared.first_order}/", headers=headers)
    assert token.status_code == 200
    assert first.json()["status"] == "PAID"
    assert stack.psql("SELECT count(*) FROM orders") == str(BURST_ORDERS + 2)
    counts = await asyncio.to_thread(stack.wait_processed, [queued], within=60)
    assert counts[queued] == 1


def test_down_v_leaves_nothing_behind(stack: Stack) -> None:
    stack.compose_v1("down", "-v")

    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}
