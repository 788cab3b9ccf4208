"""Who has the agents' console open, across contact-service processes: the staff ids behind the
open console WebSockets, for honest waiting estimates (bot/handoff/router.py).

:class:`LocalPresence`: this process's sockets (no ``REDIS_URL``). :class:`RedisPresence`: one
sorted set, a member per open socket whose score is when it expires (Redis's clock); each process
renews its own sockets every ``HEARTBEAT`` seconds, so the sockets of a process that was killed
drop out within ``EXPIRES`` seconds, and after Redis restarts empty, the next heartbeat puts them
all back. While Redis is down, a process counts its own sockets.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from typing import Any, Dict, Optional, Set

from bot.core.redis_state import RedisState, RedisUnavailable

logger = logging.getLogger(__name__)
HEARTBEAT, EXPIRES = 10.0, 30.0  # seconds

# ARGV[1]: how long (ms) the members in ARGV[2..] stay (renewed or added); returns the members alive.
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class LocalPresence:
    def __init__(self) -> None:
        self.here: Dict[Any, str] = {}  # open console socket -> its staff id

    async def arrived(self, socket: Any, staff_id: str) -> None:
        self.here[socket] = staff_id

    async def left(self, socket: Any) -> None:
        self.here.pop(socket, None)

    async def online(self) -> Set[str]:
        """The staff ids with a console open."""
        return set(self.here.values())

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisPresence(LocalPresence):
    def __init__(self, redis: RedisState):
        super().__init__()
        self.redis = redis
        self.key = redis.key("presence")
        self._process = secrets.token_hex(6)
        self._numbers = itertools.count(1)
        self._members: Dict[Any, str] = {}  # socket -> its member in the set
        self._renew = redis.client.register_script(RENEW)
        self._task: Optional[asyncio.Task] = None

    async def _run_renew(self, *members: str) -> Set[str]:
        alive = await self.redis.run(lambda client: self._renew(keys=[self.key], args=[int(EXPIRES * 1000), *members],
                                                                client=client))
        return {(m.decode() if isinstance(m, bytes) else m).split(":", 2)[2] for m in alive}

    async def arrived(self, socket: Any, staff_id: str) -> None:
        await super().arrived(socket, staff_id)
        member = self._members[socket] = f"{self._process}:{next(self._numbers)}:{staff_id}"
        try:
            await self._run_renew(member)
        except RedisUnavailable:
            pass  # the heartbeat adds it once Redis is back

    async def left(self, socket: Any) -> None:
        await super().left(socket)
        member = self._members.pop(socket, None)
        if member is not None:
            try:
                await self.redis.run(lambda client: client.zrem(self.key, member))
            except RedisUnavailable:
                pass  # it expires

    async def online(self) -> Set[str]:
        try:
            return await self._run_renew()
        except RedisUnavailable:
            return await super().online()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._heartbeat())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def renew(self) -> None:
        """Keep this process's sockets in the set (and put them back after Redis restarted)."""
        await self._run_renew(*self._members.values())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self.renew()
            except RedisUnavailable:
                pass  # logged by RedisState; this process counts its own meanwhile
            except Exception:
                logger.exception("renewing the consoles' presence failed")
