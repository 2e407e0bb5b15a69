"""What every `make bench` scenario runs on: the wrk driver, the API server it measures, logins, and
the report (Markdown; bench/chart.py draws the PNG)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.stack import (
    ROOT,
    Process,
)

RESULTS = ROOT / "bench" / "results"


SCENARIO_LUA = ROOT / "bench" / "wrk" / "scenario.lua"


DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))


CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))


WRK_THREADS = 2


API_WORKERS = int(os.environ.get("BENCH_API_WORKERS", "2"))


PASSWORD = "bench-password-1"


@dataclass
class Result:
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    wrk_cpu_percent: float
    baseline: str = "B1"
    ratio: float | None = None
    note: str = ""

    @classmethod
    def from_wrk(cls, scenario: str, stats: dict[str, float], **extra: Any) -> Result:
        """From the JSON line bench/wrk/report.lua prints (and the wrk process's CPU share)."""
        return cls(
            scenario=scenario,
            rps=stats["requests"] / (stats["duration_us"] / 1e6),
            p50_ms=stats["p50_us"] / 1000,
            p99_ms=stats["p99_us"] / 1000,
            errors=int(stats["errors"]),
            requests=int(stats["requests"]),
            wrk_cpu_percent=round(stats["wrk_cpu_percent"], 1),
            **extra,
        )


@dataclass
class Run:
    started_at: str
    machine: str
    settings: dict[str, object]
    results: list[Result] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            sys.exit(
                f"{process.name} exited with {process.popen.returncode}; see its log in {RESULTS}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.2)
    sys.exit(f"{process.name} did not start serving {url} in {timeout:.0f}s")


def uvicorn(app: str, port: int, env: dict[str, str], name: str, root: Path = ROOT) -> Process:
    """`app` (a factory) under uvicorn; the API itself as deployments start it (`python -m api`, its
    httptools protocol with the request-head limit), any other app under uvicorn's own httptools.

    `root` is the source tree the process imports from (bench/compare.py runs an older revision's);
    revisions older than `python -m api` ran the API under uvicorn's own command line."""
    server = (
        ["-m", "api"]
        if app == "api.main:create_app" and (root / "api" / "__main__.py").exists()
        else ["-m", "uvicorn", "--factory", app, "--http", "httptools", "--no-proxy-headers",
              "--ws-per-message-deflate", "false"]
    )  # fmt: skip
    argv = [
        sys.executable, *server,
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(API_WORKERS), "--no-access-log",
        "--loop", "uvloop", "--log-level", "warning",
    ]  # fmt: skip
    return Process(name, argv, env, RESULTS / f"{name}.log", cwd=root)


def run_wrk(
    url: str,
    mode: str,
    token: str = "",
    ids_file: Path | None = None,
    seconds: int = DURATION,
    connections: int = CONNECTIONS,
) -> dict[str, float]:
    threads = min(WRK_THREADS, connections)
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(SCENARIO_LUA), url, "--", mode, token, str(ids_file or ""), str(threads),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^WRK_JSON (\{.*\})$", output, re.MULTILINE)
    if match is None:
        sys.exit(f"wrk printed no summary:\n{output}")
    stats: dict[str, float] = json.loads(match.group(1))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stats["wrk_cpu_percent"] = 100 * cpu / elapsed
    return stats


def measure(
    name: str,
    url: str,
    mode: str,
    token: str = "",
    ids_file: Path | None = None,
    warmup_ids: Path | None = None,
) -> Result:
    """Warm-up, then the measured run. `warmup_ids` keeps one-shot ids (PATCH) apart from the measured ones."""
    run_wrk(url, mode, token, warmup_ids or ids_file, seconds=WARMUP)
    stats = run_wrk(url, mode, token, ids_file)
    result = Result.from_wrk(name, stats)
    print(
        f"  {name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, errors {result.errors}",
        flush=True,
    )
    return result


def measure_bare_route(env: dict[str, str]) -> Result:
    """B1: a bare FastAPI route on the API's server settings, the baseline of every ratio."""
    port = free_port()
    bare = uvicorn("bench.bare_app:create_app", port, env, "bare")
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/bare", bare)
        return measure("B1 bare FastAPI route", f"http://127.0.0.1:{port}/bare", "plain")
    finally:
        bare.stop()


@contextlib.contextmanager
def api_server(env: dict[str, str], name: str, root: Path = ROOT) -> Iterator[str]:
    port = free_port()
    process = uvicorn("api.main:create_app", port, env, name, root)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/openapi.json", process)
        yield base
    finally:
        process.stop()


def login(base: str, email: str) -> tuple[int, str]:
    with httpx.Client(base_url=base, timeout=10) as client:
        user = client.post("/register/", json={"email": email, "password": PASSWORD})
        user.raise_for_status()
        token = client.post("/token", data={"username": email, "password": PASSWORD})
        token.raise_for_status()
        return int(user.json()["id"]), str(token.json()["access_token"])


def write_ids(name: str, ids: list[str]) -> Path:
    path = RESULTS / f"{name}.ids"
    path.write_text("\n".join(ids) + "\n")
    return path


def login_latency(base: str, email: str, samples: int = 20) -> float:
    """Median seconds of one /token call (one Argon2id check), measured one at a time."""
    timings = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(samples):
            started = time.perf_counter()
            client.post("/token", data={"username": email, "password": PASSWORD}).raise_for_status()
            timings.append(time.perf_counter() - started)
    timings.sort()
    return timings[len(timings) // 2]


class LoginTrickle:
    """Logs in `per_second` times a second in the background, as real users would."""

    def __init__(self, base: str, email: str, per_second: float) -> None:
        self._base, self._email, self._interval = base, email, 1 / per_second
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self._base, timeout=10) as client:
            while not self._stop.wait(self._interval):
                client.post("/token", data={"username": self._email, "password": PASSWORD})

    def __enter__(self) -> LoginTrickle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def redis_benchmark() -> float:
    output = subprocess.run(
        ["redis-benchmark", "-t", "get", "-n", "200000", "-c", str(CONNECTIONS), "-q"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"GET: ([\d.]+) requests per second", output.replace("\r", "\n"))
    return float(match.group(1)) if match else float("nan")


def pgbench(database: str) -> float:
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(
        ["pgbench", *base, "-i", "-s", "1", "-q", database], capture_output=True, check=True
    )
    output = subprocess.run(
        ["pgbench", *base, "-S", "-c", str(CONNECTIONS), "-j", "2", "-T", str(DURATION), database],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"tps = ([\d.]+)", output)
    return float(match.group(1)) if match else float("nan")


def markdown(run: Run) -> str:
    lines = [
        f"# Benchmark {run.started_at}",
        "",
        f"{run.machine}; wrk -t{WRK_THREADS} -c{CONNECTIONS}, {WARMUP}s warm-up + {DURATION}s per scenario; "
        f"uvicorn --workers {API_WORKERS} (uvloop, httptools).",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | ratio | wrk CPU % | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in run.results:
        ratio = f"{r.ratio:.2f} × {r.baseline}" if r.ratio is not None else ""
        lines.append(
            f"| {r.scenario} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {ratio} "
            f"| {r.wrk_cpu_percent:.0f} | {r.note} |"
        )
    lines += ["", *(f"- {key}: {value}" for key, value in run.extra.items())]
    return "\n".join(lines) + "\n"
