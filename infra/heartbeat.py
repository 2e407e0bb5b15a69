"""Liveness of the processes that serve no HTTP (consumer, worker), for container healthchecks.

The process touches `<HEARTBEAT_DIR>/orders-<name>.heartbeat` every few seconds while it is healthy (its
own check, e.g. "connected to RabbitMQ"); `python -m infra.heartbeat <name>` exits 0 while the
file is fresh and 1 once it is stale or missing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0
STALE_AFTER_SECONDS = 3 * INTERVAL_SECONDS


def heartbeat_path(name: str) -> Path:
    return Path(os.environ.get("HEARTBEAT_DIR", tempfile.gettempdir())) / f"orders-{name}.heartbeat"


async def beat_forever(name: str, is_healthy: Callable[[], bool]) -> None:
    """Run as a background task for the life of the process."""
    path = heartbeat_path(name)
    while True:
        if is_healthy():
            path.touch()
        await asyncio.sleep(INTERVAL_SECONDS)


def is_fresh(name: str, now: float | None = None) -> bool:
    try:
        age = (now or time.time()) - heartbeat_path(name).stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_AFTER_SECONDS


if __name__ == "__main__":
    sys.exit(0 if len(sys.argv) == 2 and is_fresh(sys.argv[1]) else 1)
