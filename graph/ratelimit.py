"""The REST rate limits, applied to GraphQL: same rules, same Redis counters, same identities.

`RATE_LIMIT_DEFAULT` is spent once per HTTP request (per user, else per client IP), so a user's budget
is shared by both interfaces. `register` and `token` also spend `RATE_LIMIT_AUTH` per client IP, once
per field: aliases cannot multiply password guesses within one request.
"""

from __future__ import annotations

from edge.resources import Services
from infra.ratelimit import RateLimitExceeded, RateLimitRule, RateLimitVerdict


async def spend(services: Services, rule: RateLimitRule, identity: str) -> RateLimitVerdict | None:
    """Count one hit; `RateLimitExceeded` past the limit, None when limits are off or Redis can't tell."""
    if services.limiter is None:
        return None
    verdict = await services.limiter.hit(rule, identity)
    if verdict is not None and not verdict.allowed:
        raise RateLimitExceeded(verdict)
    return verdict


def rate_limit_headers(verdict: RateLimitVerdict) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(verdict.retry_after),
    }
