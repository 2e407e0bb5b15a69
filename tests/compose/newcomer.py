"""`make newcomer-test` (also run by .ci/run): the README's "Run it" block, on bare Debian 12 and 13.

Each Debian release gets a container with nothing but python3, git, make, curl and ca-certificates
(an image built on the debootstrapped stand-in base of tests/compose/images.py, kept between runs;
package scripts start no daemons there, as in Docker's own images, so `make run` has to start every
server itself). As root, with no sudo, no systemd, no PostgreSQL, Redis or RabbitMQ, and a stock
`pg_hba.conf` (scram-sha-256 on 127.0.0.1), each container:
1. clones the repository (a git bundle of HEAD: what is committed, as a clone would have it);
2. runs the README block's first command, `make run`, in the background;
3. waits for `/docs`, registers, logs in and creates an order through the API, from inside the
   container (the API listens on its 127.0.0.1);
4. sees `Order <id> processed` in `make run`'s output; stops it; runs the block's second command,
   `make test-unit`.
In the Debian 13 container, on its Python 3.13 and its own servers, the API suite (tests/api) runs
next, as CI's check of Python 3.13 beyond the unit tests.

The two containers run side by side. Downloads are cached in Docker volumes between runs (Debian's
packages per release, uv's cache shared): the test installs everything each time, it just does not
fetch it again. The host's CA bundle (this network reaches the registries through a TLS proxy) goes
into the image build's temporary context, never into the repository.

The file name keeps pytest from collecting it in `make test`; the Makefile names it explicitly.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.compose.images import build_on_base
from tests.compose.stack import ROOT, run

RELEASES = {"12": "bookworm", "13": "trixie"}
CHECKOUT = "/root/orders"
# A fresh container installs three servers and every Python dependency before the API answers.
DOCS_WITHIN = 1200.0
PROCESSED_WITHIN = 120.0
API_SUITE_WITHIN = 2400.0

_IMAGE_DOCKERFILE = """\
FROM orders-standin/debian:{suite}
ARG DEBIAN_FRONTEND=noninteractive
COPY ca-certificates.crt /usr/local/share/ca-certificates/build-host.crt
RUN apt-get update \\
    && apt-get install -y python3 git make curl ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /root
CMD ["sleep", "infinity"]
"""

# Run inside the container with its python3 (stdlib only): what a newcomer does with Swagger UI.
_CLIENT = """\
import json, sys, time, urllib.error, urllib.parse, urllib.request, uuid

BASE = "http://127.0.0.1:8000"
deadline = time.monotonic() + float(sys.argv[1])
while True:
    try:
        with urllib.request.urlopen(BASE + "/docs", timeout=5) as response:
            if response.status == 200:
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("no /docs within the deadline")
    time.sleep(1)


def call(path, data, headers):
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.load(response)


email, password = f"newcomer-{uuid.uuid4().hex[:8]}@example.com", "s3cret-password"
body = json.dumps({"email": email, "password": password}).encode()
status, _ = call("/register/", body, {"Content-Type": "application/json"})
assert status == 201, status
form = urllib.parse.urlencode({"username": email, "password": password}).encode()
status, token = call("/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
assert status == 200, status
order = {"items": [{"product_id": "sku-1", "quantity": 2, "price": "9.99"}]}
status, created = call(
    "/orders/",
    json.dumps(order).encode(),
    {"Content-Type": "application/json", "Authorization": "Bearer " + token["access_token"]},
)
assert status == 201, status
print(created["id"])
"""


def readme_run_steps() -> list[str]:
    """The shell lines of the README's "Run it" block, comments dropped."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Run it") :]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def image(release: str) -> str:
    return f"orders-newcomer/debian:{release}"


def build_image(release: str) -> None:
    with tempfile.TemporaryDirectory(prefix="orders-newcomer-") as tmp:
        folder = Path(tmp)
        (folder / "Dockerfile").write_text(_IMAGE_DOCKERFILE.format(suite=RELEASES[release]))
        build_on_base(folder, image(release), label=f"newcomer-debian-{release}")


@dataclass
class Newcomer:
    """One Debian release's container and what happened in it."""

    release: str
    run_log: Path
    container: str = ""
    order_id: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    failure: str = ""

    def exec(self, *args: str, timeout: float, stdin: str | None = None) -> str:
        return run_in(self.container, *args, timeout=timeout, stdin=stdin)

    def output(self) -> str:
        return self.run_log.read_text(errors="replace")


def run_in(container: str, *args: str, timeout: float, stdin: str | None = None) -> str:
    """A command in the container, in the checkout when it exists; its output, or the failure."""
    result = subprocess.run(
        ["docker", "exec", "-i", "-w", "/root", container, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        msg = f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        raise AssertionError(msg)
    return result.stdout


def newcomer_steps(newcomer: Newcomer, bundle: Path, steps: list[str]) -> None:
    """Steps 1 to 4 of the module's docstring; `make run` is left running for the API suite."""
    started = time.monotonic()
    newcomer.exec("git", "clone", "--quiet", f"/bundle/{bundle.name}", CHECKOUT, timeout=120)
    with newcomer.run_log.open("w") as log:
        # Its own session, so the whole `make run` tree can be stopped by its process group;
        # --wait: setsid forks when it already leads a group, and `docker exec` must not end there.
        subprocess.Popen(
            [
                "docker",
                "exec",
                "-w",
                CHECKOUT,
                newcomer.container,
                "setsid",
                "--wait",
                "bash",
                "-c",
                f"echo $$ > /root/run.pid; exec {steps[0]}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    newcomer.order_id = newcomer.exec(
        "python3", "-", str(DOCS_WITHIN), stdin=_CLIENT, timeout=DOCS_WITHIN + 60
    ).strip()
    newcomer.timings["make run until an order was created"] = time.monotonic() - started
    started = time.monotonic()
    line = f"Order {newcomer.order_id} processed"
    while line not in newcomer.output():
        if time.monotonic() - started > PROCESSED_WITHIN:
            msg = f"no '{line}' within {PROCESSED_WITHIN}s"
            raise AssertionError(msg)
        time.sleep(0.5)
    newcomer.timings["order processed"] = time.monotonic() - started
    started = time.monotonic()
    newcomer.exec("bash", "-c", f"cd {CHECKOUT} && {steps[1]}", timeout=600)
    newcomer.timings[steps[1]] = time.monotonic() - started


@pytest.fixture(scope="module")
def steps() -> list[str]:
    steps = readme_run_steps()
    assert steps == ["make run", "make test-unit"]
    return steps


@pytest.fixture(scope="module")
def newcomers(
    steps: list[str], tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[dict[str, Newcomer]]:
    """Both releases' containers, their newcomer steps run side by side."""
    bundle = tmp_path_factory.mktemp("bundle") / "orders.bundle"
    run(["git", "bundle", "create", "--quiet", str(bundle), "HEAD"], cwd=ROOT)
    logs = tmp_path_factory.mktemp("make-run")
    newcomers = {release: Newcomer(release, logs / f"debian-{release}.log") for release in RELEASES}
    run_id = uuid.uuid4().hex[:8]
    try:
        for release, newcomer in newcomers.items():
            started = time.monotonic()
            build_image(release)
            newcomer.timings["image"] = time.monotonic() - started
            newcomer.container = run(
                [
                    "docker",
                    "run",
                    "--detach",
                    "--rm",
                    "--name",
                    f"orders-newcomer-{release}-{run_id}",
                    "--volume",
                    f"{bundle.parent}:/bundle:ro",
                    "--volume",
                    f"orders-newcomer-apt-{release}:/var/cache/apt/archives",
                    "--volume",
                    "orders-newcomer-uv:/root/.cache/uv",
                    # The cache is a volume of its own: uv would warn that it cannot hardlink.
                    "--env",
                    "UV_LINK_MODE=copy",
                    image(release),
                ]
            ).strip()

        def steps_of(newcomer: Newcomer) -> None:
            try:
                newcomer_steps(newcomer, bundle, steps)
            except Exception as error:  # handed to the test of that release
                newcomer.failure = f"{type(error).__name__}: {error}"

        threads = [
            threading.Thread(target=steps_of, args=(newcomer,)) for newcomer in newcomers.values()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        yield newcomers
    finally:
        for newcomer in newcomers.values():
            if newcomer.container:
                subprocess.run(
                    ["docker", "rm", "-f", newcomer.container], capture_output=True, check=False
                )
        figures = "; ".join(
            f"Debian {newcomer.release}: "
            + ", ".join(f"{what} {seconds:.0f}s" for what, seconds in newcomer.timings.items())
            for newcomer in newcomers.values()
        )
        capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            sys.stderr.write(f"\nnewcomer-test timings: {figures}\n")


def check(newcomer: Newcomer) -> None:
    assert not newcomer.failure, f"{newcomer.failure}\n--- make run:\n{newcomer.output()[-8000:]}"
    output = newcomer.output()
    # What scripts/setup.sh did on the bare machine.
    assert "installing postgresql redis-server rabbitmq-server" in output
    assert "creating the PostgreSQL role and database orders" in output
    assert f"Order {newcomer.order_id} processed" in output


def test_the_readme_runs_on_a_bare_debian_12(newcomers: dict[str, Newcomer]) -> None:
    check(newcomers["12"])


def test_the_readme_runs_on_a_bare_debian_13(newcomers: dict[str, Newcomer]) -> None:
    check(newcomers["13"])


def test_stock_postgresql_authentication_was_kept(newcomers: dict[str, Newcomer]) -> None:
    """The role logs in with its password over TCP (scram-sha-256), and nothing trusts anyone."""
    for newcomer in newcomers.values():
        if newcomer.failure:
            pytest.skip(f"Debian {newcomer.release} failed earlier")
        rules = newcomer.exec(
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-XAt",
            "-c",
            "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'",
            timeout=60,
        ).split()
        assert rules == ["scram-sha-256"], (newcomer.release, rules)


def test_the_api_suite_passes_on_debian_13s_python_3_13(newcomers: dict[str, Newcomer]) -> None:
    newcomer = newcomers["13"]
    if newcomer.failure:
        pytest.skip("Debian 13's newcomer steps failed")
    # `make run` stops first: the suite runs its own processes, on databases of its own.
    newcomer.exec("bash", "-c", "kill -INT -- -$(cat /root/run.pid)", timeout=60)
    assert "Python 3.13" in newcomer.exec(
        "bash", "-c", f"cd {CHECKOUT} && .venv/bin/python -V", timeout=60
    )
    started = time.monotonic()
    newcomer.exec(
        "bash",
        "-c",
        f"cd {CHECKOUT} && .tools/bin/uv run pytest tests/api -q -x -p no:cacheprovider",
        timeout=API_SUITE_WITHIN,
    )
    newcomer.timings["API suite on Python 3.13"] = time.monotonic() - started
