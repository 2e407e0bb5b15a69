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

from infra.redis import RedisBreaker

_HIT = """
local counters = tonumber(ARGV[1])
local units = tonumber(ARGV[2])
local result = {}
local refused = false
for i = 1, counters do
  local window_ms = tonumber(ARGV[i + 2])
  local count = redis.call('INCRBY', KEYS[i], units)
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[i], window_ms)
    ttl = window_ms
  end
  if count > tonumber(ARGV[i + 2 + counters]) then
    refused = true
  end
  result[#result + 1] = count
  result[#result + 1] = ttl
end
-- A refused single unit counts (hammering past the limit keeps it closed); refused units of a
-- request spending several are given back, so asking too much at once wastes nothing.
if refused and units > 1 then
  for i = 1, counters do
    redis.call('DECRBY', KEYS[i], units)
  end
end
-- Optionally, in the same round trip, fields of one more key (a hash): the hot path's cached order.
if #KEYS > counters then
  local values = redis.call('HMGET', KEYS[counters + 1], unpack(ARGV, 2 * counters + 3))
  for _, value in ipairs(values) do
    result[#result + 1] = value
  end
end
return result
"""


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

    async def hit(
        self, rule: RateLimitRule, identity: str, *, units: int = 1
    ) -> RateLimitVerdict | None:
        """Count `units` of `identity`'s use against `rule`; None when Redis can't tell (fail open)."""
        verdict, _ = await self.hit_and_read(rule, identity, units=units)
        return verdict

    async def hit_and_read(
        self,
        rule: RateLimitRule,
        identity: str,
        read: tuple[str, Sequence[str]] | None = None,
        *,
        units: int = 1,
    ) -> tuple[RateLimitVerdict | None, list[bytes | None] | None]:
        """`hit`, and the `read` = (hash key, fields) values in the same round trip.

        (None, None) when Redis can't tell: the limit fails open and the read is a miss.
        """
        keys = [f"{self._prefix}{rule.name}:{item.key_for()}:{identity}" for item in rule.items]
        args: list[str | int] = [
            len(keys),
            units,
            *(item.get_expiry() * 1000 for item in rule.items),
            *(item.amount for item in rule.items),
        ]
        if read is not None:
            keys.append(read[0])
            args.extend(read[1])

        async def run() -> list[int | bytes | None]:
            result: list[int | bytes | None] = await self._hit(keys=keys, args=args)
            return result

        reply = await self._breaker.call(run, fallback=None, what="rate limiting")
        if reply is None:
            return None, None
        counts = [
            (int(reply[2 * n] or 0), int(reply[2 * n + 1] or 0)) for n in range(len(rule.items))
        ]
        given_back = units > 1 and any(
            count > item.amount for (count, _), item in zip(counts, rule.items, strict=True)
        )
        verdicts = [
            _verdict(item.amount, count, count - units if given_back else count, ttl_ms)
            for (count, ttl_ms), item in zip(counts, rule.items, strict=True)
        ]
        refused = [v for v in verdicts if not v.allowed]
        verdict = (
            max(refused, key=lambda v: v.retry_after)
            if refused
            else min(verdicts, key=lambda v: v.remaining)
        )
        if read is None:
            return verdict, None
        values = reply[2 * len(rule.items) :]
        return verdict, [value if isinstance(value, bytes) else None for value in values]


def _verdict(limit: int, attempted: int, kept: int, ttl_ms: int) -> RateLimitVerdict:
    return RateLimitVerdict(
        allowed=attempted <= limit,
        limit=limit,
        remaining=max(limit - kept, 0),
        retry_after=max(1, -(-ttl_ms // 1000)),
    )
