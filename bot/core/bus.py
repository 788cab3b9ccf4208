"""Live fan-out: events for the open WebSockets (a customer's widget, the agents' consoles) reach
every contact-service process, and each process delivers them to its own sockets.

:class:`LocalBus` (no ``REDIS_URL``): one process, an event is delivered at once. :class:`RedisBus`:
an event is published on a Redis channel and every process, the publisher included, delivers it
when it comes back from its subscription; the publisher delivers it itself only when Redis did not
take it or its own subscription is down, so each socket gets each event once. Events are live hints
(typing, a message echoed, the queue changed); the stored messages are the truth: events published
while Redis is down reach this process's sockets only, and when the subscription is back after a
gap, the ``on_resume`` callbacks close the sockets so that the clients reconnect and reload what
they missed (docs/architecture.md, "Shared state on Redis (issue #18)").
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Any, Awaitable, Callable, Dict, List, Optional

from bot.core.redis_state import CONNECTION_ERRORS, RedisState, RedisUnavailable

logger = logging.getLogger(__name__)
Event = Dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]
FIRST_RETRY, LAST_RETRY = 0.5, 10.0  # seconds between attempts to subscribe again, doubling
LISTEN = 5.0  # seconds a read of the subscription waits (the client's socket timeout is for commands)


class LocalBus:
    """Handlers by topic; an event published is delivered to them in this process at once."""

    def __init__(self) -> None:
        self.handlers: Dict[str, List[Handler]] = defaultdict(list)
        self.resumed: List[Callable[[], Awaitable[None]]] = []

    def subscribe(self, topic: str, handler: Handler) -> None:
        self.handlers[topic].append(handler)

    def on_resume(self, callback: Callable[[], Awaitable[None]]) -> None:
        """``callback()`` after events may have been missed (never, in one process)."""
        self.resumed.append(callback)

    async def publish(self, topic: str, event: Event) -> None:
        await self.deliver(topic, event)

    async def deliver(self, topic: str, event: Event) -> None:
        for handler in self.handlers.get(topic, ()):
            await handler(event)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisBus(LocalBus):
    """Events through Redis pub/sub, one channel per topic; one subscriber task per process that
    subscribes again after Redis restarts (backing off from 0.5 to 10 seconds)."""

    def __init__(self, redis: RedisState):
        super().__init__()
        self.redis = redis
        self.listening = False  # subscribed now: our own events come back to us
        self._task: Optional[asyncio.Task] = None
        self._subscribed = asyncio.Event()

    def _channel(self, topic: str) -> str:
        return self.redis.key("bus", topic)

    async def publish(self, topic: str, event: Event) -> None:
        data = json.dumps(event, ensure_ascii=False)
        try:
            await self.redis.run(lambda client: client.publish(self._channel(topic), data))
            published = True
        except RedisUnavailable:
            published = False
        if not (published and self.listening):  # it will not come back to us: our sockets get it now
            await self.deliver(topic, event)

    async def start(self, wait: float = 2.0) -> None:
        """Start the subscriber; wait up to ``wait`` seconds for it to subscribe (not longer: a
        Redis that is down must not stop the service from starting)."""
        self._task = asyncio.get_running_loop().create_task(self._listen())
        try:
            await asyncio.wait_for(self._subscribed.wait(), wait)
        except asyncio.TimeoutError:
            logger.warning("live events: not subscribed to Redis yet; this process's own sockets only until it is")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen(self) -> None:
        delay, gap = FIRST_RETRY, False
        channels = {self._channel(topic): topic for topic in self.handlers}
        while True:
            pubsub = self.redis.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                self.listening, delay = True, FIRST_RETRY
                self._subscribed.set()
                self.redis.reached()
                if gap:
                    await self._resume()
                while True:  # a read times out quietly (None) every LISTEN seconds: the health check pings
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=LISTEN)
                    if message is not None:
                        await self._received(channels, message)
            except CONNECTION_ERRORS as error:
                self.redis.failed(error)
            finally:
                self.listening, gap = False, True
                await pubsub.reset()
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY)

    async def _received(self, channels: Dict[str, str], message: Dict[str, Any]) -> None:
        channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        try:
            await self.deliver(channels[channel], json.loads(message["data"]))
        except Exception:  # one bad event or handler must not stop the subscriber
            logger.exception("delivering a live event failed")

    async def _resume(self) -> None:
        logger.warning("live events: subscribed to Redis again; clients reconnect to reload what they missed")
        for callback in self.resumed:
            try:
                await callback()
            except Exception:
                logger.exception("resuming live events failed")
