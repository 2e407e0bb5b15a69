"""Waiting out an outage: backoff doubling to a cap, one log line for the outage and one for the end."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from infra.retry import Outage, pause


def test_the_delay_doubles_from_the_first_up_to_the_cap() -> None:
    outage = Outage(
        logging.getLogger("test"), failing="x down", recovered="x up", first_delay=0.5, max_delay=3
    )

    assert [outage.failed(OSError()) for _ in range(5)] == [0.5, 1.0, 2.0, 3, 3]


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage(logging.getLogger("test"), failing="x down", recovered="x up")
    with caplog.at_level(logging.INFO, logger="test"):
        for _ in range(10):
            outage.failed(OSError("refused"))
        outage.recovered()
        outage.recovered()

    assert [r.getMessage() for r in caplog.records] == [
        "x down (OSError('refused')); retrying",
        "x up after 10 failed attempt(s)",
    ]
    assert outage.failures == 0


async def test_a_pause_ends_early_when_the_process_is_stopping() -> None:
    stopping = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stopping.set)
    started = time.monotonic()

    await pause(30, stopping)

    assert time.monotonic() - started < 5
