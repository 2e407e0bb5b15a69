"""Keyset cursors: what this service makes it reads back; anything else is refused."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from domain.orders.errors import InvalidCursor
from domain.orders.pagination import decode_cursor, encode_cursor


def test_a_cursor_round_trips_its_position() -> None:
    position = (datetime(2026, 11, 30, 5, 3, 48, 123456, tzinfo=UTC), uuid.uuid4())

    assert decode_cursor(encode_cursor(position)) == position


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    cursor = encode_cursor((datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()))

    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "not-base64-at-all",
        _raw("2026-01-01T00:00:00+00:00"),  # no id
        _raw(f"2026-01-01T00:00:00|{uuid.uuid4()}"),  # naive time
        _raw("2026-01-01T00:00:00+00:00|not-a-uuid"),
        _raw(f"yesterday|{uuid.uuid4()}"),
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),  # not UTF-8
    ],
)
def test_a_cursor_not_made_here_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)
