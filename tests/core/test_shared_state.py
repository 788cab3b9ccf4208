"""The shared state's Redis parts against the machine's real Redis (127.0.0.1:6379), each test
under a key prefix of its own: two instances stand for two contact-service processes. And what
each does when Redis cannot be reached (a closed port): this process's own state, no error."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, Dict, List

import pytest

from bot.core import presence as presence_module
from bot.core.bus import RedisBus
from bot.core.presence import RedisPresence
from bot.core.ratelimit import Limiter, Rate, RedisRates
from bot.core.redis_state import RedisState
from tests.support.ports import free_port

MACHINE_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def prefix():
    """A key prefix of the test's own; its keys are deleted afterwards."""
    name = f"test-shared-{secrets.token_hex(4)}:"
    yield name
    redis = RedisState(MACHINE_REDIS, name)
    keys = [key async for key in redis.client.scan_iter(match=name + "*")]
    if keys:
        await redis.client.delete(*keys)
    await redis.close()


@pytest.fixture
async def processes(prefix):
    """Two processes' Redis connections, on the same keys."""
    states = [RedisState(MACHINE_REDIS, prefix), RedisState(MACHINE_REDIS, prefix)]
    yield states
    for state in states:
        await state.close()


@pytest.fixture
async def unreachable():
    """A Redis connection to a port where nothing listens."""
    state = RedisState(f"redis://127.0.0.1:{free_port()}/0", "down:")
    yield state
    await state.close()


async def test_a_rate_holds_across_processes_and_its_keys_expire(processes):
    rate = Rate("messages", 3, 60)
    a, b = Limiter(RedisRates(processes[0]), rate), Limiter(RedisRates(processes[1]), rate)
    assert [await a.retry_after("c1"), await b.retry_after("c1"), await a.retry_after("c1")] == [0, 0, 0]
    wait = await b.retry_after("c1")
    assert 59 < wait <= 60 and await a.retry_after("c1") > 0  # refused on both, nothing more counted
    assert await a.retry_after("c2") == 0  # another key has its own count
    ttl = await processes[0].client.pttl(processes[0].key("rate", "messages", "c1"))
    assert 59_000 < ttl <= 60_000  # Redis forgets the key one window after its latest event
    await b.uncount("c1")
    assert await a.retry_after("c1") == 0 and await b.retry_after("c1") > 0
    await a.forget("c1")
    assert await b.retry_after("c1") == 0


async def test_a_sliding_window_frees_the_oldest_event_first(processes):
    limiter = Limiter(RedisRates(processes[0]), Rate("typing", 2, 0.5))
    assert await limiter.retry_after("k") == 0
    await asyncio.sleep(0.3)
    assert await limiter.retry_after("k") == 0 and await limiter.retry_after("k") > 0
    await asyncio.sleep(0.25)  # the first event left the window, the second not yet
    assert await limiter.retry_after("k") == 0 and await limiter.retry_after("k") > 0


async def test_several_rates_are_checked_and_counted_as_one(processes):
    rates = RedisRates(processes[0])
    narrow, wide = Rate("login_narrow", 1, 60), Rate("login_wide", 5, 60)
    assert await rates.take((narrow, "amy\n10.0.0.1"), (wide, "amy")) == (0, None)
    wait, reached = await rates.take((narrow, "amy\n10.0.0.1"), (wide, "amy"))
    assert wait > 0 and reached == 0
    for n in range(4):  # the refused attempt counted nothing against the wide rate: 4 more fit
        assert (await rates.take((narrow, f"amy\n10.0.0.{n + 2}"), (wide, "amy")))[0] == 0
    assert (await rates.take((narrow, "amy\n10.0.0.9"), (wide, "amy")))[1] == 1


async def test_without_redis_a_process_counts_its_own(unreachable, caplog):
    limiter = Limiter(RedisRates(unreachable), Rate("messages", 2, 60))
    assert await limiter.retry_after("c") == 0 and await limiter.retry_after("c") == 0
    assert await limiter.retry_after("c") > 0  # still limited: per process
    await limiter.uncount("c")
    assert await limiter.retry_after("c") == 0
    assert unreachable.down and "Redis unavailable" in caplog.text


def collector(into: List[Dict[str, Any]]):
    async def handler(event):
        into.append(event)
    return handler


async def until(condition, timeout: float = 5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_an_event_reaches_every_process_once(processes):
    buses, seen = [RedisBus(state) for state in processes], [[], []]
    for bus, into in zip(buses, seen):
        bus.subscribe("customers", collector(into))
        await bus.start()
    try:
        assert all(bus.listening for bus in buses)
        await buses[0].publish("customers", {"conversation_id": "c1", "frame": {"type": "typing", "on": True}})
        await buses[1].publish("customers", {"conversation_id": "c1", "frame": {"type": "message", "text": "好的"}})
        await until(lambda: len(seen[0]) == 2 and len(seen[1]) == 2)
        await asyncio.sleep(0.2)  # nothing more comes: the publisher did not deliver it itself too
        assert seen[0] == seen[1] and [e["frame"]["type"] for e in seen[0]] == ["typing", "message"]
        assert seen[0][1]["frame"]["text"] == "好的"
    finally:
        for bus in buses:
            await bus.close()


async def test_without_redis_an_event_reaches_this_process_once(unreachable):
    bus, seen = RedisBus(unreachable), []
    bus.subscribe("consoles", collector(seen))
    await bus.start(wait=0.3)
    try:
        assert not bus.listening
        await bus.publish("consoles", {"frame": {"type": "queue_changed"}, "conversation_id": None})
        assert seen == [{"frame": {"type": "queue_changed"}, "conversation_id": None}]
    finally:
        await bus.close()


async def test_agents_online_are_the_same_on_every_process(processes, monkeypatch):
    a, b = RedisPresence(processes[0]), RedisPresence(processes[1])
    amy_tab, amy_other_tab, ben_tab = object(), object(), object()
    await a.arrived(amy_tab, "amy")
    await b.arrived(amy_other_tab, "amy")
    await b.arrived(ben_tab, "ben")
    assert await a.online() == await b.online() == {"amy", "ben"}
    await b.left(amy_other_tab)
    await b.left(ben_tab)
    assert await b.online() == {"amy"}


async def test_the_consoles_of_a_process_that_died_drop_out(processes, monkeypatch):
    monkeypatch.setattr(presence_module, "EXPIRES", 0.5)
    alive, killed = RedisPresence(processes[0]), RedisPresence(processes[1])
    await alive.arrived(object(), "amy")
    await killed.arrived(object(), "kim")  # and then no heartbeat, no goodbye
    assert await alive.online() == {"amy", "kim"}
    await asyncio.sleep(0.3)
    await alive.renew()
    await asyncio.sleep(0.3)
    assert await alive.online() == {"amy"}


async def test_without_redis_presence_is_this_process_s_consoles(unreachable):
    presence = RedisPresence(unreachable)
    await presence.arrived(object(), "amy")
    assert await presence.online() == {"amy"}
