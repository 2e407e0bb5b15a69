"""The benchmark as a picture: `python -m bench.chart bench/results/bench-<stamp>.json` (bench.run
draws it after every run, next to the Markdown and JSON).

Left: each scenario's throughput as a ratio to the same run's B1 (the bare FastAPI route), or in
requests/s for a run without one (`make bench-search`). Right: its p50 and p99 latency, on a log scale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only: no display on a server
import matplotlib.pyplot as plt


def draw(run: dict[str, object], path: Path, *, title: str = "make bench") -> None:
    results = [r for r in run["results"] if isinstance(r, dict)]  # type: ignore[attr-defined]
    names = [str(r["scenario"]) for r in results]
    b1 = next((float(r["rps"]) for r in results if str(r["scenario"]).startswith("B1")), None)
    throughput = [float(r["rps"]) / b1 if b1 else float(r["rps"]) for r in results]
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 0.45 * len(names) + 2), sharey=True)
    rows = range(len(names))
    left.barh(rows, throughput, color="#4c72b0")
    left.set_yticks(list(rows), names, fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("requests/s as a ratio to B1" if b1 else "requests/s")
    p50 = [float(r["p50_ms"]) for r in results]
    p99 = [float(r["p99_ms"]) for r in results]
    right.barh([row - 0.2 for row in rows], p50, height=0.4, label="p50", color="#55a868")
    right.barh([row + 0.2 for row in rows], p99, height=0.4, label="p99", color="#dd8452")
    right.set_xscale("log")
    right.set_xlabel("latency, ms (log scale)")
    right.legend(loc="lower right")
    figure.suptitle(f"{title}, {run['started_at']} ({run['machine']})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    source = Path(sys.argv[1])
    target = source.with_suffix(".png")
    draw(json.loads(source.read_text()), target)
    print(target)


if __name__ == "__main__":
    main()
