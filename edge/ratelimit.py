"""Rate-limit headers, the same on REST and GraphQL answers."""

from __future__ import annotations

from domain.ratelimit.budget import RateLimitExceeded
from domain.ratelimit.limiter import RateLimitVerdict


def rate_limit_headers(verdict: RateLimitVerdict) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(verdict.retry_after),
    }


def rejection_headers(exc: RateLimitExceeded) -> dict[str, str]:
    """What a refused request is told: its budget, and when to try again."""
    return {**rate_limit_headers(exc.verdict), "Retry-After": str(exc.verdict.retry_after)}
