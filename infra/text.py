"""Text PostgreSQL can store: valid Unicode (no lone surrogate) and no NUL character.

JSON lets a client send both (`"\\u0000"`, `"\\ud800"`); PostgreSQL refuses them in text and JSONB, so
they are refused as bad input, or known to match nothing, before any statement carries them.
"""

from __future__ import annotations


def is_storable(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
