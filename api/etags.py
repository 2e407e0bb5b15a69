"""ETags of orders: the order's version, quoted (`"3"`), and the conditional headers that carry it."""

from __future__ import annotations

import re

_STRONG = re.compile(r'"([0-9]{1,9})"')


def etag(version: int) -> str:
    return f'"{version}"'


def none_match(if_none_match: str | None, version: int) -> bool:
    """True when `If-None-Match` names the current version (or is `*`): the client's copy is current.

    Weak comparison, as RFC 9110 asks for this header: `W/"3"` matches `"3"`.
    """
    if if_none_match is None:
        return False
    current = etag(version)
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == current:
            return True
    return False


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` requires: None when absent or `*` (any version will do).

    Strong comparison only (RFC 9110): a weak tag, a list or anything unreadable can never match a
    current version, so it is answered as stale (0: no order has version 0).
    """
    if if_match is None or if_match.strip() == "*":
        return None
    match = _STRONG.fullmatch(if_match.strip())
    return int(match.group(1)) if match is not None else 0
