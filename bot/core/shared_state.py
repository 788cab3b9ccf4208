"""What the contact-service processes share, chosen by ``REDIS_URL``: unset, each process keeps it
in memory (one process: the embedded default); set, in Redis, so that several processes behind a
load balancer count the same limits, see each other's live events and the same agents online
(docs/architecture.md, "Shared state on Redis (issue #18)")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from bot.core.bus import LocalBus, RedisBus
from bot.core.presence import LocalPresence, RedisPresence
from bot.core.ratelimit import LocalRates, RedisRates
from bot.core.redis_state import RedisState


@dataclass
class SharedState:
    rates: Union[LocalRates, RedisRates]
    bus: Union[LocalBus, RedisBus]
    presence: Union[LocalPresence, RedisPresence]
    redis: Optional[RedisState] = None

    @classmethod
    def local(cls) -> "SharedState":
        return cls(LocalRates(), LocalBus(), LocalPresence())

    @classmethod
    def on_redis(cls, url: str, prefix: str = "evergreen:") -> "SharedState":
        redis = RedisState(url, prefix)
        return cls(RedisRates(redis), RedisBus(redis), RedisPresence(redis), redis)

    @classmethod
    def from_url(cls, url: str) -> "SharedState":
        return cls.on_redis(url) if url else cls.local()

    async def start(self) -> None:
        """After every handler has subscribed to the bus (the core and the front ends, at build)."""
        await self.bus.start()
        await self.presence.start()

    async def close(self) -> None:
        await self.presence.close()
        await self.bus.close()
        if self.redis is not None:
            await self.redis.close()
