"""Spending a rate-limit budget: the one rule every limited operation follows, whoever calls it, and
the error past it."""

from __future__ import annotations

from domain.errors import DomainError, ErrorKind
from domain.ratelimit.limiter import RateLimiter, RateLimitRule, RateLimitVerdict


class RateLimitExceeded(DomainError):
    """Too many requests in the current window."""

    kind = ErrorKind.RATE_LIMITED
    reason = "TOO_MANY_REQUESTS"

    def __init__(self, verdict: RateLimitVerdict) -> None:
        self.verdict = verdict
        super().__init__(
            f"Rate limit exceeded: {verdict.limit} per window; retry in {verdict.retry_after}s"
        )


async def spend(
    limiter: RateLimiter | None, rule: RateLimitRule, identity: str, *, units: int = 1
) -> RateLimitVerdict | None:
    """Count `units` of `identity`'s budget under `rule`; `RateLimitExceeded` past the limit.

    None when limits are off or Redis can't tell: every limit fails open, so a Redis outage never
    refuses service.
    """
    if limiter is None:
        return None
    verdict = await limiter.hit(rule, identity, units=units)
    if verdict is not None and not verdict.allowed:
        raise RateLimitExceeded(verdict)
    return verdict
