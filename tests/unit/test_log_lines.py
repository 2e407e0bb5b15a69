"""JSON log lines keep the call's `extra=` fields, and the lines of a unit of work about an order
carry its `order_id` and `user_id` (from `annotate`, as the spans do)."""

from __future__ import annotations

import contextvars
import json
import logging
import uuid

import pytest

from infra.logs import configure_logging
from infra.settings import AppSettings, LogFormat
from infra.tracing import annotate

ORDER_ID = uuid.UUID("6d340350-2bbc-4830-aea6-1ad4ba58605e")


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_extra_fields_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(AppSettings(log_format=LogFormat.JSON))

    logging.getLogger("orders.test").info("refund issued", extra={"refund_id": "r-1", "amount": 3})

    [line] = _lines(capsys)
    assert list(line)[:6] == ["time", "level", "logger", "message", "correlation_id", "process"]
    assert (line["message"], line["refund_id"], line["amount"]) == ("refund issued", "r-1", 3)


def test_the_lines_of_an_order_carry_its_id_and_its_user(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(AppSettings(log_format=LogFormat.JSON))
    logger = logging.getLogger("orders.test")

    def unit_of_work() -> None:
        logger.info("before")
        annotate(order_id=ORDER_ID, user_id=7, status="PAID")
        logger.info("after")
        logger.info("explicit", extra={"order_id": "given"})

    contextvars.copy_context().run(unit_of_work)
    logger.info("another unit")

    before, after, explicit, another = _lines(capsys)
    assert "order_id" not in before
    assert (after["order_id"], after["user_id"]) == (str(ORDER_ID), 7)
    assert "status" not in after
    assert explicit["order_id"] == "given"
    assert "order_id" not in another
