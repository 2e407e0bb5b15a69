"""Fixed-window rate limits in Redis, shared by every process, one round trip per request.

The rules are `limits` strings ("100/minute", "10/minute;200/hour"). Each window is a counter key that
expires with its window; a Lua script increments every rule's counter and reads their TTLs atomically.
slowapi's own limiter talks to Redis synchronously, on the event loop: a slow Redis would stall every
request of the process, so the check here is async, bounded by the breaker, and fails open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from redis.asyncio import Redis

from domain.infra.redis import RedisBreaker

_HIT = """
local result = {}
for i, key in ipairs(KEYS) do
  local window_ms = tonumber(ARGV[i])
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window_ms)
    ttl = window_ms
  end
  result[#result + 1] = count
  result[#result + 1] = ttl
end
return result
"""


class RateLimitExceeded(Exception):
    """Too many requests in the current window."""

    def __init__(self, verdict: RateLimitVerdict) -> None:
        self.verdict = verdict
        super().__init__(
            f"Rate limit exceeded: {verdict.limit} per window; retry in {verdict.retry_after}s"
        )


@dataclass(frozen=True, slots=True)
class RateLimitVerdict:
    allowed: bool
    limit: int
    remaining: int
    # Whole seconds until the tightest window resets (at least 1).
    retry_after: int


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    name: str
    items: Sequence[RateLimitItem]

    @classmethod
    def parse(cls, name: str, spec: str) -> RateLimitRule:
        return cls(name=name, items=parse_many(spec))


class RateLimiter:
    def __init__(self, redis: Redis, breaker: RedisBreaker, *, key_prefix: str) -> None:
        self._breaker = breaker
        self._prefix = f"{key_prefix}ratelimit:"
        self._hit = redis.register_script(_HIT)

    async def hit(self, rule: RateLimitRule, identity: str) -> RateLimitVerdict | None:
        """Count one request of `identity` against `rule`; None when Redis can't tell (fail open)."""
        keys = [f"{self._prefix}{rule.name}:{item.key_for()}:{identity}" for item in rule.items]
        windows_ms = [item.get_expiry() * 1000 for item in rule.items]

        async def count() -> list[int]:
            return [int(value) for value in await self._hit(keys=keys, args=windows_ms)]

        counters = await self._breaker.call(count, fallback=None, what="rate limiting")
        if counters is None:
            return None
        verdicts = [
            _verdict(item.amount, counters[2 * n], counters[2 * n + 1])
            for n, item in enumerate(rule.items)
        ]
        refused = [v for v in verdicts if not v.allowed]
        if refused:
            return max(refused, key=lambda v: v.retry_after)
        return min(verdicts, key=lambda v: v.remaining)


def _verdict(limit: int, count: int, ttl_ms: int) -> RateLimitVerdict:
    return RateLimitVerdict(
        allowed=count <= limit,
        limit=limit,
        remaining=max(limit - count, 0),
        retry_after=max(1, -(-ttl_ms // 1000)),
    )
