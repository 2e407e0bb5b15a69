"""What an attempt's answer means for its delivery: the retry rules, pure (tests/unit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Verdict(StrEnum):
    SUCCEEDED = "succeeded"
    # Worth trying again: connection error, timeout, 408, 429, 5xx.
    RETRY = "retry"
    # Not worth trying again: any other 4xx, and 3xx (redirects are not followed).
    FAILED = "failed"
    # 410 Gone: failed, and the endpoint is disabled.
    GONE = "gone"


def verdict(response_status: int | None) -> Verdict:
    """None is an attempt without an answer (refused, reset, timed out)."""
    if response_status is None:
        return Verdict.RETRY
    if 200 <= response_status < 300:
        return Verdict.SUCCEEDED
    if response_status == 410:
        return Verdict.GONE
    if response_status in {408, 429} or response_status >= 500:
        return Verdict.RETRY
    return Verdict.FAILED


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """A `Retry-After` header as seconds from `now` (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, slots=True)
class Next:
    """After an attempt: the delivery's new status, and when it is tried again (pending only)."""

    status: str
    next_attempt_at: datetime | None


def after_attempt(
    *,
    outcome: Verdict,
    tries: int,
    schedule: list[float],
    now: datetime,
    retry_after: float | None = None,
) -> Next:
    """`tries` counts the attempts of this run of the schedule, the one just made included. The
    wait before retry n is schedule[n - 1]; a Retry-After longer than that wins."""
    if outcome is Verdict.SUCCEEDED:
        return Next(status="succeeded", next_attempt_at=None)
    if outcome is not Verdict.RETRY or tries > len(schedule):
        return Next(status="failed", next_attempt_at=None)
    wait = schedule[tries - 1]
    if retry_after is not None and retry_after > wait:
        wait = retry_after
    return Next(status="pending", next_attempt_at=now + timedelta(seconds=wait))
