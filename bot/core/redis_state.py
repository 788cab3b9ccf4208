"""The Redis connection that several contact-service processes share their state through (rate
limits, live fan-out, agents online: docs/architecture.md, "Shared state on Redis (issue #18)").

Redis is a helper, never a gate: when it cannot be reached a call raises :class:`RedisUnavailable`
at once and each user falls back to what this process knows. After a failure the connection is
not tried again for ``RETRY_AFTER`` seconds, so a Redis that is down costs a request nothing but a
flag check (not a connect timeout each); the first call after that tries again.
"""

from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable, TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER = 1.0  # seconds
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisUnavailable(Exception):
    """Redis could not be reached (or was not tried again yet): use this process's own state."""


class RedisState:
    """One asyncio Redis client per process (a pool), its keys under ``prefix``."""

    def __init__(self, url: str, prefix: str = "evergreen:"):
        # A pooled connection is stale after Redis restarted: a command fails on it once, and is
        # tried again at once on a new connection (not lost: a live event would be).
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=10,
                                           retry=Retry(NoBackoff(), 1), retry_on_error=[RedisConnectionError])
        self.prefix = prefix
        self.down = False
        self._retry_at = 0.0

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def run(self, operation: Callable[[redis.Redis], Awaitable[T]]) -> T:
        """``operation(client)``, or RedisUnavailable; logs when Redis goes away and comes back."""
        if self.down and time.monotonic() < self._retry_at:
            raise RedisUnavailable("not retried yet")
        try:
            result = await operation(self.client)
        except CONNECTION_ERRORS as error:
            self.failed(error)
            raise RedisUnavailable(str(error)) from error
        self.reached()
        return result

    def failed(self, error: BaseException) -> None:
        if not self.down:
            logger.warning("Redis unavailable (%s): this process uses its own state until it is back", error)
        self.down, self._retry_at = True, time.monotonic() + RETRY_AFTER

    def reached(self) -> None:
        if self.down:
            logger.warning("Redis is back: shared state again")
            self.down = False

    async def close(self) -> None:
        await self.client.close(close_connection_pool=True)
