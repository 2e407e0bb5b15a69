"""Real processes for the pipeline tests: started with an environment, their output captured line by
line, waited on with deadlines, and always stopped (their whole process group) at the end."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test run itself is killed (a timeout, Ctrl-C twice), the
    # kernel kills the child too, so no consumer or worker outlives its test.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ManagedProcess:
    def __init__(self, name: str, args: list[str], env: dict[str, str], ready_pattern: str) -> None:
        self.name = name
        self.ready_pattern = ready_pattern
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.popen = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def output(self, last: int = 60) -> str:
        return f"--- {self.name} (last {last} lines) ---\n" + "\n".join(self.lines[-last:])

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        return sum(1 for line in self.lines if regex.search(line))

    async def wait_for(self, pattern: str, *, within: float, count: int = 1) -> None:
        """Until `count` output lines match `pattern`; fails with the output past the deadline."""
        deadline = time.monotonic() + within
        while self.count(pattern) < count:
            if self.popen.poll() is not None and self.count(pattern) < count:
                self._reader.join(1)
                if self.count(pattern) >= count:
                    return
                msg = f"{self.name} exited ({self.popen.returncode}) before {pattern!r}\n{self.output()}"
                raise AssertionError(msg)
            if time.monotonic() > deadline:
                msg = f"{self.name}: no {count}× {pattern!r} within {within}s\n{self.output()}"
                raise AssertionError(msg)
            await asyncio.sleep(0.05)

    async def wait_for_any(
        self, pattern: str, *, others: list[ManagedProcess], within: float
    ) -> None:
        """Until this process or one of `others` prints a line matching `pattern`."""
        everyone = [self, *others]
        deadline = time.monotonic() + within
        while not any(process.count(pattern) for process in everyone):
            if time.monotonic() > deadline:
                outputs = "\n".join(process.output() for process in everyone)
                msg = f"no {pattern!r} within {within}s\n{outputs}"
                raise AssertionError(msg)
            await asyncio.sleep(0.05)

    def signal(self, signum: signal.Signals) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    async def wait_exit(self, *, within: float) -> int:
        deadline = time.monotonic() + within
        while (code := self.popen.poll()) is None:
            if time.monotonic() > deadline:
                msg = f"{self.name} still running {within}s later\n{self.output()}"
                raise AssertionError(msg)
            await asyncio.sleep(0.05)
        self._reader.join(2)
        return code

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; never leaves the process (or its children) behind."""
        self.signal(signal.SIGTERM)
        try:
            await self.wait_exit(within=10)
        except AssertionError:
            self.signal(signal.SIGKILL)
            await self.wait_exit(within=5)


class Processes:
    """Every process a test starts; the fixture stops them all when the test ends, pass or fail.

    `api()`, `consumer()` and `worker()` only spawn (processes start in parallel); `ready()` waits until
    each has said it is serving.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[ManagedProcess] = []

    def start(
        self, name: str, args: list[str], ready_pattern: str, **overrides: str
    ) -> ManagedProcess:
        process = ManagedProcess(name, args, {**self.env, **overrides}, ready_pattern)
        self.started.append(process)
        return process

    def api(self, name: str = "api", **overrides: str) -> tuple[ManagedProcess, str]:
        port = free_port()
        args = ["-m", "api", "--port", str(port)]
        process = self.start(name, args, "Application startup complete", **overrides)
        return process, f"http://127.0.0.1:{port}"

    def consumer(self, name: str = "consumer", **overrides: str) -> ManagedProcess:
        return self.start(name, ["-m", "consumer"], "consuming new_order", **overrides)

    def worker(self, name: str = "worker", **overrides: str) -> ManagedProcess:
        return self.start(name, ["-m", "worker"], "Listening started", **overrides)

    async def ready(self, *processes: ManagedProcess) -> None:
        await asyncio.gather(
            *(process.wait_for(process.ready_pattern, within=30) for process in processes)
        )

    def output(self) -> str:
        return "\n".join(process.output() for process in self.started)

    async def stop_all(self) -> None:
        await asyncio.gather(*(process.stop() for process in self.started))
