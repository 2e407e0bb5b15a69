"""`make bench-compare BEFORE=<revision> [AFTER=<revision>]`: the request rows a refactor can move,
for an older revision and for this tree (or AFTER) in one run.

Both APIs serve the same throwaway database (migrated by this tree: later migrations only add indexes
and tables an older revision ignores), each with its own Redis key prefix (the cache's format may
differ). They take turns, before then after, `BENCH_COMPARE_ROUNDS` times, so the machine's drift
falls on both; each row is the median of its rounds. A revision is exported with `git archive` and
its API started from that tree, with this tree's virtualenv, consumer and worker. The B1 bare
route is measured once at the start, as `make bench` does.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import (
    RESULTS,
    Result,
    api_server,
    login,
    measure,
    measure_bare_route,
    write_ids,
)
from bench.run import DEEP_ORDERS, PATCH_ORDERS, bench_env
from bench.scenarios import pipeline_processes, wait_all_processed
from bench.seed import cursor_at, order_ids, seed_orders
from bench.stack import PG_ADMIN, ROOT, delete_redis_keys, throwaway_backends

ROUNDS = int(os.environ.get("BENCH_COMPARE_ROUNDS", "2"))

Row = Callable[[str], Result]


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(
            "usage: python -m bench.compare BEFORE [AFTER]"
            "  (make bench-compare BEFORE=<revision> [AFTER=<revision>])"
        )
    revisions = [_short(name) for name in sys.argv[1:]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    database, vhost = f"orders_bench_{tag}", f"orders_bench_{tag}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"
    env = {
        **bench_env(tag, dsn, vhost),
        # Absolute: each API runs from its own tree.
        "JWT_PRIVATE_KEY_PATH": str(ROOT / ".secret_key" / "jwt-private.pem"),
        "JWT_PUBLIC_KEY_PATH": str(ROOT / ".secret_key" / "jwt-public.pem"),
    }
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="orders-compare-") as exports:
        before, *after = revisions
        sides = {f"before ({before})": export(before, Path(exports) / before)}
        if after:
            sides[f"after ({after[0]})"] = export(after[0], Path(exports) / after[0])
        else:
            sides["after (this tree)"] = ROOT
        try:
            with throwaway_backends(database=database, vhost=vhost, env=env):
                rows = compare(sides, env, dsn, tag)
        finally:
            asyncio.run(delete_redis_keys(f"orders-bench-{tag}:"))
    table = report(rows, list(sides), started, os.getloadavg()[0])
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"compare-{stamp}.md").write_text(table)
    print()
    print(table)


def _short(name: str) -> str:
    revision = subprocess.run(
        ["git", "rev-parse", "--short", name], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    if not revision:
        sys.exit(f"{name!r} is not a revision of this repository")
    return revision


def export(revision: str, root: Path) -> Path:
    root.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def compare(
    sides: dict[str, Path], env: dict[str, str], dsn: str, tag: str
) -> dict[str, list[Result]]:
    """{row: [B1's Result, then each side's Results in `sides` order, one per round]}."""
    b1 = measure_bare_route(env)

    with pipeline_processes(env):
        # Users registered through this tree's API; both sides accept their tokens (same keys).
        with api_server(env, "api") as base:
            reader_id, reader_token = login(base, f"reader-{tag}@example.com")
            deep_id, deep_token = login(base, f"deep-{tag}@example.com")
            patcher_id, patcher_token = login(base, f"patcher-{tag}@example.com")
            _, writer_token = login(base, f"writer-{tag}@example.com")
        asyncio.run(seed_orders(dsn, reader_id, 1000))
        asyncio.run(seed_orders(dsn, deep_id, DEEP_ORDERS))
        asyncio.run(seed_orders(dsn, patcher_id, PATCH_ORDERS))
        reader_ids = write_ids("reader", asyncio.run(order_ids(dsn, reader_id, 1000)))
        # Every PATCH run moves its own PENDING orders: a slice per side, round, warm-up and measure.
        pending = asyncio.run(order_ids(dsn, patcher_id, PATCH_ORDERS))
        slices = 2 * ROUNDS * len(sides)
        patch_ids = [write_ids(f"patch-{n}", pending[n::slices]) for n in range(slices)]
        deep_cursor = asyncio.run(cursor_at(dsn, deep_id, 1000 * 50 - 1))

        def rows(base: str, turn: int) -> list[Result]:
            deep = f"{base}/orders/user/{deep_id}/?limit=50"
            return [
                measure("1. GET /orders/{id}/ cached", base, "get-order", reader_token, reader_ids),
                measure(
                    "4. PATCH /orders/{id}/ (PENDING→PAID)",
                    base,
                    "patch-order",
                    patcher_token,
                    patch_ids[2 * turn],
                    patch_ids[2 * turn + 1],
                ),
                measure("5a. list, first page (limit 50)", deep, "plain", deep_token),
                measure(
                    "5b. list, page 1,000 deep", f"{deep}&cursor={deep_cursor}", "plain", deep_token
                ),
                measure(
                    "6. GraphQL order(id) cached",
                    f"{base}/graphql",
                    "graphql-order",
                    reader_token,
                    reader_ids,
                ),
                # Last: the orders it creates are processed before the next side starts.
                measure("3. POST /orders/", base, "post-order", writer_token),
            ]

        table: dict[str, list[Result]] = {}
        for round_ in range(ROUNDS):
            for index, (side, root) in enumerate(sides.items()):
                print(f"round {round_ + 1}: {side}", flush=True)
                side_env = {**env, "REDIS_KEY_PREFIX": f"orders-bench-{tag}:{index}:"}
                with api_server(side_env, f"api-{index}", root) as base:
                    for result in rows(base, round_ * len(sides) + index):
                        table.setdefault(result.scenario, [b1]).append(result)
                    # While the API runs: its outbox relay publishes the new orders.
                    asyncio.run(wait_all_processed(dsn, within=600))
    return table


def report(rows: dict[str, list[Result]], sides: list[str], started: datetime, load: float) -> str:
    count = len(sides)
    lines = [
        f"# make bench-compare, {started.isoformat(timespec='seconds')}",
        "",
        f"{os.cpu_count()} cores; {ROUNDS} rounds, each side in turn; load average at the end "
        f"{load:.1f}. Figures are medians of the rounds (each round's req/s in brackets).",
        "",
        f"| row | {' | '.join(f'{side} req/s (×B1)' for side in sides)} | after / before | "
        f"{' | '.join(f'{side} p99 ms' for side in sides)} |",
        "|---|" + "---|" * (2 * count + 1),
    ]
    for scenario, (b1, *results) in rows.items():
        per_side = [results[index::count] for index in range(count)]
        rps = [statistics.median(r.rps for r in side) for side in per_side]
        p99 = [statistics.median(r.p99_ms for r in side) for side in per_side]
        cells = [
            f"{value:,.0f} ({value / b1.rps:.3f}) [{', '.join(f'{r.rps:,.0f}' for r in side)}]"
            for value, side in zip(rps, per_side, strict=True)
        ]
        lines.append(
            f"| {scenario} | {' | '.join(cells)} | {rps[-1] / rps[0]:.2f} | "
            f"{' | '.join(f'{value:.1f}' for value in p99)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
