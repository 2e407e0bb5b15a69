"""Opaque keyset cursors over (created_at, id), newest first: a page costs the same at any depth."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from domain.orders.errors import InvalidCursor

Position = tuple[datetime, uuid.UUID]


def encode_cursor(position: Position) -> str:
    created_at, order_id = position
    raw = f"{created_at.isoformat()}|{order_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at_text, order_id_text = raw.split("|")
        created_at = datetime.fromisoformat(created_at_text)
        order_id = uuid.UUID(order_id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor from None
    if created_at.tzinfo is None:
        raise InvalidCursor
    return created_at, order_id
