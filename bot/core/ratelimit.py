"""Limits: a sliding-window rate per key, and a cap on connections open at once per key.

:class:`RateLimiter` and :class:`ConnectionCap` count in memory (one contact-service process).
Both are bounded in memory whatever clients send: a rate limiter forgets keys whose window has
passed and, beyond ``max_keys`` active keys, the least recently counted ones; a connection cap
keeps only keys with a connection open.

The limits that must hold across several contact-service processes (messages per conversation,
new sessions per address, failed logins, link-code attempts) are a :class:`Limiter` on a
:class:`Rates` store: :class:`LocalRates` in memory (no ``REDIS_URL``), or :class:`RedisRates`,
which counts in Redis and falls back to memory while Redis is down (docs/architecture.md,
"Shared state on Redis (issue #18)"). Connection caps stay per process (same section).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional, Protocol, Tuple

from bot.core.redis_state import RedisState, RedisUnavailable


class RateLimiter:
    """At most ``limit`` events per key in any ``window`` seconds.

    An event is counted when it is allowed (``retry_after``, or ``wait`` then ``count``), so
    parallel attempts cannot outrun the limit while they are being handled; ``forget`` or
    ``uncount`` take events back (a successful login).
    """

    MAX_KEYS = 10_000

    def __init__(self, limit: int, window: float, max_keys: int = MAX_KEYS):
        self.limit, self.window, self.max_keys = limit, window, max_keys
        # Least recently counted first: keys whose window has passed are at the front.
        self._events: "OrderedDict[str, Deque[float]]" = OrderedDict()

    def _prune(self, now: float) -> None:
        while self._events:
            key, events = next(iter(self._events.items()))
            if events and now - events[-1] < self.window and len(self._events) <= self.max_keys:
                return
            # Expired, or too many keys: the quietest goes (made-up keys cannot fill memory).
            del self._events[key]

    def wait(self, key: str) -> float:
        """0 if ``key`` may have an event now, else the seconds until it may (nothing counted)."""
        now = time.monotonic()
        self._prune(now)
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and now - events[0] >= self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return 0.0
        return self.window - (now - events[0]) if len(events) >= self.limit else 0.0

    def count(self, key: str) -> None:
        """Count an event of ``key`` now (after ``wait`` said it may)."""
        now = time.monotonic()
        events = self._events.setdefault(key, deque())
        events.append(now)
        self._events.move_to_end(key)
        self._prune(now)

    def retry_after(self, key: str) -> float:
        """0 if ``key`` may have an event now (and counts it), else the seconds until it may."""
        wait = self.wait(key)
        if not wait:
            self.count(key)
        return wait

    def uncount(self, key: str) -> None:
        """Take back the latest event of ``key``."""
        events = self._events.get(key)
        if events:
            events.pop()
            if not events:
                del self._events[key]

    def forget(self, key: str) -> None:
        """Take back every event of ``key``."""
        self._events.pop(key, None)

    def __len__(self) -> int:
        """Keys held now."""
        return len(self._events)


class ConnectionCap:
    """At most ``limit`` connections open at once per key (WebSockets per client address)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._open: Dict[str, int] = {}

    def open(self, key: str) -> bool:
        """Whether ``key`` may open one more (and counts it); pair with ``closed``."""
        if self._open.get(key, 0) >= self.limit:
            return False
        self._open[key] = self._open.get(key, 0) + 1
        return True

    def closed(self, key: str) -> None:
        left = self._open.get(key, 0) - 1
        if left > 0:
            self._open[key] = left
        else:
            self._open.pop(key, None)

    def __len__(self) -> int:
        return len(self._open)


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` events per key in any ``window`` seconds; ``name`` keeps its keys apart."""

    name: str
    limit: int
    window: float


Taken = Tuple[float, Optional[int]]  # (0, None): counted; else (seconds to wait, index of the rate reached)


class Rates(Protocol):
    async def take(self, *wanted: Tuple[Rate, str]) -> Taken:
        """If every (rate, key) may have an event now, count one for each: ``(0, None)``; else count
        nothing and say the longest wait and which rate it is (parallel attempts cannot outrun a
        limit: a check and its count are one step)."""

    async def uncount(self, rate: Rate, key: str) -> None:
        """Take back the latest event of ``key``."""

    async def forget(self, rate: Rate, key: str) -> None:
        """Take back every event of ``key``."""


class LocalRates:
    """Rates counted in this process's memory (one :class:`RateLimiter` per rate)."""

    def __init__(self) -> None:
        self._limiters: Dict[Rate, RateLimiter] = {}

    def _of(self, rate: Rate) -> RateLimiter:
        if rate not in self._limiters:
            self._limiters[rate] = RateLimiter(rate.limit, rate.window)
        return self._limiters[rate]

    async def take(self, *wanted: Tuple[Rate, str]) -> Taken:
        waits = [self._of(rate).wait(key) for rate, key in wanted]
        longest = max(waits, default=0.0)
        if longest:
            return longest, waits.index(longest)
        for rate, key in wanted:
            self._of(rate).count(key)
        return 0.0, None

    async def uncount(self, rate: Rate, key: str) -> None:
        self._of(rate).uncount(key)

    async def forget(self, rate: Rate, key: str) -> None:
        self._of(rate).forget(key)


# One sorted set per (rate, key): an event's score is its time (ms, Redis's clock, so processes
# on hosts whose clocks differ still agree). Only allowed events are added, so a set holds at most
# ``limit`` members, and it expires one window after its latest event.
TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local longest, reached = 0, -1
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local wait = tonumber(oldest[2]) + window - now
    if wait > longest then longest, reached = wait, i - 1 end
  end
end
if reached >= 0 then return {longest, reached} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2 * i + 1])
end
return {0, -1}
"""


class RedisRates:
    """Rates counted in Redis, so that they hold across processes: an exact sliding window (a sorted
    set of event times per key, checked and counted in one Lua script). While Redis is down each
    process counts in its own memory (fail open to per-process limits, never refusing everyone)."""

    def __init__(self, redis: RedisState):
        self.redis = redis
        self.local = LocalRates()
        self._take = redis.client.register_script(TAKE)

    def _key(self, rate: Rate, key: str) -> str:
        return self.redis.key("rate", rate.name, key)

    async def take(self, *wanted: Tuple[Rate, str]) -> Taken:
        keys = [self._key(rate, key) for rate, key in wanted]
        args = [secrets.token_hex(8)]
        for rate, _ in wanted:
            args += [rate.limit, max(1, round(rate.window * 1000))]
        try:
            wait, reached = await self.redis.run(lambda client: self._take(keys=keys, args=args, client=client))
        except RedisUnavailable:
            return await self.local.take(*wanted)
        return (0.0, None) if reached < 0 else (int(wait) / 1000, int(reached))

    async def uncount(self, rate: Rate, key: str) -> None:
        try:
            await self.redis.run(lambda client: client.zpopmax(self._key(rate, key)))
        except RedisUnavailable:
            await self.local.uncount(rate, key)

    async def forget(self, rate: Rate, key: str) -> None:
        try:
            await self.redis.run(lambda client: client.delete(self._key(rate, key)))
        except RedisUnavailable:
            await self.local.forget(rate, key)


class Limiter:
    """One rate on a store: :class:`RateLimiter`'s ``retry_after``, ``uncount`` and ``forget``, awaited."""

    def __init__(self, rates: Rates, rate: Rate):
        self.rates, self.rate = rates, rate

    async def retry_after(self, key: str) -> float:
        """0 if ``key`` may have an event now (and counts it), else the seconds until it may."""
        return (await self.rates.take((self.rate, key)))[0]

    async def uncount(self, key: str) -> None:
        await self.rates.uncount(self.rate, key)

    async def forget(self, key: str) -> None:
        await self.rates.forget(self.rate, key)
