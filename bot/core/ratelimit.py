"""Limits kept in memory (one contact-service process): a sliding-window rate per key, and a cap
on connections open at once per key.

Both are bounded in memory whatever clients send: a rate limiter forgets keys whose window has
passed and, beyond ``max_keys`` active keys, the least recently counted ones; a connection cap
keeps only keys with a connection open.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Deque, Dict


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
