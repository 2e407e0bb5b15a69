"""Waiting out an outage: the one way every loop here retries (connect, enqueue, listen, publish).

An `Outage` tracks a run of consecutive failures of one thing: it logs the first failure and the
recovery (once each, never once per attempt), and gives the next delay, doubling up to a cap.
`pause` sleeps that long unless the process is stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging


class Outage:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        failing: str,
        recovered: str,
        first_delay: float = 0.1,
        max_delay: float = 5.0,
    ) -> None:
        """`failing` and `recovered` are the log messages (operators and tests look for them)."""
        self._logger = logger
        self._failing = failing
        self._recovered = recovered
        self._first_delay = first_delay
        self._max_delay = max_delay
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        """Count a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        if self.failures == 1:
            self._logger.warning("%s (%r); retrying", self._failing, exc)
        delay: float = min(self._max_delay, self._first_delay * 2 ** (self.failures - 1))
        return delay

    def recovered(self) -> None:
        """Count a success; logs the recovery when it ends an outage."""
        if self.failures:
            self._logger.warning("%s after %d failed attempt(s)", self._recovered, self.failures)
        self.failures = 0


async def pause(seconds: float, stopping: asyncio.Event | None = None) -> None:
    """Sleep `seconds`, or less if `stopping` is set meanwhile."""
    if stopping is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
