"""One compose project of the compose test: its folder, its `docker compose` commands, what it left.

The folder is a copy of the working tree (the files git would commit), so the test builds exactly
what a clone would, and never touches a developer's own `.env` or `.secret_key/`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# What the compose file's names start with; one project per machine at a time.
PROJECT = "orders-compose-test"


def run(args: list[str], *, cwd: Path | None = None, timeout: float = 600) -> str:
    """The command's stdout; a failure shows its whole output."""
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        msg = f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        raise AssertionError(msg)
    return result.stdout


def copy_working_tree(destination: Path) -> None:
    files = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def set_variable(env: str, name: str, value: str) -> str:
    """`env` (a .env file's text) with the line of `name`, which must be there, set to `value`."""
    assert re.search(rf"^{name}=", env, re.MULTILINE), name
    return re.sub(rf"^{name}=.*$", f"{name}={value}", env, flags=re.MULTILINE)


@dataclass(frozen=True)
class Logs:
    stdout: list[str]
    stderr: list[str]


@dataclass(frozen=True)
class Stack:
    directory: Path
    project: str = PROJECT
    # `docker compose` options naming another compose file than the directory's own, and its .env.
    files: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"label=com.docker.compose.project={self.project}"

    def compose(self, *args: str, timeout: float = 600) -> str:
        """`docker compose` (v2, the Go CLI) on this project."""
        return run(
            ["docker", "compose", "-p", self.project, *self.files, *args],
            cwd=self.directory,
            timeout=timeout,
        )

    def compose_v1(self, *args: str, timeout: float = 600) -> str:
        """`docker-compose` (Debian's 1.29), which the README promises works as well."""
        return run(
            ["docker-compose", "-p", self.project, *self.files, *args],
            cwd=self.directory,
            timeout=timeout,
        )

    def containers(self, service: str | None = None) -> list[str]:
        """Ids of this project's containers (of one service), running or not."""
        filters = ["--filter", self.label]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        return run(["docker", "ps", "-a", "-q", "--no-trunc", *filters]).split()

    def inspect(self, *containers: str) -> list[dict[str, Any]]:
        if not containers:
            return []
        inspected: list[dict[str, Any]] = json.loads(run(["docker", "inspect", *containers]))
        return inspected

    def wait_healthy(self, *, within: float) -> float:
        """Until every container of the project runs and passes its healthcheck; seconds taken."""
        started = time.monotonic()
        while True:
            states = {
                str(container["Name"]): container["State"]
                for container in self.inspect(*self.containers())
            }
            unhealthy = {
                name: (state["Status"], state.get("Health", {}).get("Status"))
                for name, state in states.items()
                if state.get("Health", {}).get("Status") != "healthy"
            }
            if states and not unhealthy:
                return time.monotonic() - started
            if time.monotonic() - started > within:
                msg = f"not healthy within {within}s: {unhealthy}\n{self.compose('logs', '--tail=30')}"
                raise AssertionError(msg)
            time.sleep(1)

    def logs(self, service: str) -> Logs:
        """Every line each container of `service` wrote (across restarts), stdout and stderr apart."""
        stdout: list[str] = []
        stderr: list[str] = []
        for container in self.containers(service):
            result = subprocess.run(
                ["docker", "logs", container], capture_output=True, text=True, check=True
            )
            stdout += result.stdout.splitlines()
            stderr += result.stderr.splitlines()
        return Logs(stdout=stdout, stderr=stderr)

    def processed(self) -> Counter[str]:
        """How many `Order <id> processed` lines the workers printed, by order id."""
        return Counter(
            match.group(1)
            for line in self.logs("worker").stdout
            if (match := re.fullmatch(r"Order ([0-9a-f-]{36}) processed", line))
        )

    def wait_processed(self, order_ids: list[str], *, within: float) -> Counter[str]:
        """Until every order's `Order <id> processed` line is in the workers' logs; the counts."""
        deadline = time.monotonic() + within
        while True:
            counts = self.processed()
            missing = [order_id for order_id in order_ids if not counts[order_id]]
            if not missing:
                return counts
            if time.monotonic() > deadline:
                msg = f"{len(missing)} of {len(order_ids)} orders not processed within {within}s"
                raise AssertionError(msg)
            time.sleep(1)

    def psql(self, sql: str) -> str:
        """One query in the postgres container (its port is not published), as the compose user."""
        return self.compose(
            "exec", "-T", "postgres", "psql", "-U", "orders", "-d", "orders", "-Atc", sql
        ).strip()

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of the project still on the engine."""
        return {
            "containers": self.containers(),
            **{
                f"{kind}s": run(["docker", kind, "ls", "-q", "--filter", self.label]).split()
                for kind in ("network", "volume")
            },
        }
