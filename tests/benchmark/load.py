"""(c) Latency and throughput and (d) growth with conversation length.

Ours is measured the way customers reach it: the widget's HTTP API of the contact service
(docs/contact-api.md), which stores each message, has Rasa answer it (Rasa calls the action
server) and stores the replies. Stock Rasa has no contact service: it is measured on its REST
channel, as before. Each system runs as real processes on free loopback ports (started by
:class:`bot.launcher.Assistant`), one at a time, and gets the same texts.

:func:`measure_system` takes the base URL of any running system, so the same measurement runs
against a cluster behind a proxy; :func:`soak` (tests/benchmark/soak.py runs it) holds many
slow customers against one.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import statistics
import time
from dataclasses import dataclass
from itertools import cycle, islice, zip_longest
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import aiohttp
import numpy as np

from bot.launcher import Assistant
from tests.benchmark import heldout
from tests.benchmark.cpu import CpuMeter
from tests.benchmark.report import Row, Section
from tests.support.ports import free_port

# Held-out intents whose messages hand the conversation to a person on the customer path (after
# which an agent, not the assistant, answers): left out of the texts of both systems.
HANDS_OVER = {"request_human", "report_fraud", "file_complaint"}
# The contact service limits messages per conversation and new sessions per client address (20
# and 60 a minute); the benchmark is one address sending hundreds of messages a minute.
UNLIMITED = {"CONTACT_MESSAGES_PER_MINUTE": "1000000", "CONTACT_SESSIONS_PER_MINUTE": "1000000"}


@dataclass
class Plan:
    """Message counts of the load measurements."""

    sequential: int = 100
    conversations: int = 20
    per_conversation: int = 20
    long_conversation: int = 400
    window: int = 20
    warmup: int = 5


def conversation_texts() -> List[str]:
    """Held-out messages, alternating Chinese, English and mixed (without :data:`HANDS_OVER`)."""
    per_lang = [[e.get("text") for e in found if e.get_full_intent().split("/")[0] not in HANDS_OVER]
                for found in heldout.load_examples().values()]
    return [text for group in zip_longest(*per_lang) for text in group if text]


def _take(texts: List[str], count: int, offset: int = 0) -> List[str]:
    return list(islice(cycle(texts), offset, offset + count))


def _latency(latencies: List[float], seconds: float) -> Dict[str, float]:
    return {
        "messages": len(latencies),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "throughput": len(latencies) / seconds,
    }


class RestConversation:
    """One conversation on Rasa's REST channel (how stock Rasa is reached)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, name: str):
        self.session, self.url, self.sender = session, f"{base_url}/webhooks/rest/webhook", name

    async def open(self) -> None:
        """Nothing to open: the sender id names the conversation."""

    async def say(self, text: str) -> List[Dict[str, Any]]:
        async with self.session.post(self.url, json={"sender": self.sender, "message": text}) as response:
            response.raise_for_status()
            return await response.json()


class WidgetConversation:
    """A visitor's widget on the contact service's API: a session, then messages one at a time.
    A message that gets no reply (an outage apology has one; a handover none) is an error."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, name: str = ""):
        self.session, self.base_url = session, base_url
        self.headers: Dict[str, str] = {}

    async def open(self) -> None:
        async with self.session.post(f"{self.base_url}/api/v1/sessions", json={}) as response:
            response.raise_for_status()
            self.headers = {"Authorization": f"Bearer {(await response.json())['session_token']}"}

    async def say(self, text: str, client_message_id: Optional[str] = None) -> List[Dict[str, Any]]:
        body = {"text": text, "client_message_id": client_message_id or secrets.token_hex(8)}
        async with self.session.post(f"{self.base_url}/api/v1/messages", json=body, headers=self.headers) as response:
            response.raise_for_status()
            answer = await response.json()
        if not answer["replies"] or any(r["sender"] != "bot" for r in answer["replies"]):
            raise RuntimeError(f"{text!r} was not answered by the assistant: {answer['replies']}")
        return answer["replies"]

    async def history(self) -> List[Dict[str, Any]]:
        async with self.session.get(f"{self.base_url}/api/v1/messages", headers=self.headers) as response:
            response.raise_for_status()
            return (await response.json())["messages"]


Opener = Callable[[aiohttp.ClientSession, str], Any]  # (session, conversation name) -> a conversation


async def _conversation(conversation: Any, texts: List[str]) -> List[float]:
    """Open ``conversation``, send ``texts`` one after another; return each reply's latency in ms."""
    await conversation.open()
    latencies = []
    for text in texts:
        started = time.perf_counter()
        await conversation.say(text)
        latencies.append(1000 * (time.perf_counter() - started))
    return latencies


async def _measure(opener: Opener, texts: List[str], plan: Plan, parts: str, cpu: Optional[CpuMeter]) -> Dict[str, Any]:
    results: Dict[str, Any] = {}
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        await _conversation(opener(session, "warmup"), _take(texts, plan.warmup))
        if "c" in parts:
            part_started = started = time.perf_counter()
            latencies = await _conversation(opener(session, "sequential"), _take(texts, plan.sequential))
            results["sequential"] = _latency(latencies, time.perf_counter() - started)
            if cpu:
                cpu.start()
            client_cpu, started = time.process_time(), time.perf_counter()
            per_conversation = await asyncio.gather(*(
                _conversation(opener(session, f"concurrent-{i}"), _take(texts, plan.per_conversation, i * plan.per_conversation))
                for i in range(plan.conversations)
            ))
            results["concurrent"] = _latency([ms for c in per_conversation for ms in c], time.perf_counter() - started)
            messages = results["concurrent"]["messages"]
            results["client_cpu_ms_per_message"] = 1000 * (time.process_time() - client_cpu) / messages
            if cpu:
                results["cpu_ms_per_message"] = cpu.stop(messages)
            results["c_seconds"] = time.perf_counter() - part_started
        if "d" in parts:
            started = time.perf_counter()
            latencies = await _conversation(opener(session, "long"), _take(texts, plan.long_conversation))
            first, last = statistics.median(latencies[: plan.window]), statistics.median(latencies[-plan.window :])
            results["long"] = {"messages": len(latencies), "first_ms": first, "last_ms": last, "growth": last / first,
                               "latencies_ms": latencies}
            results["d_seconds"] = time.perf_counter() - started
    return results


def measure_system(base_url: str, texts: List[str], plan: Plan, parts: str = "cd",
                   cpu: Optional[CpuMeter] = None) -> Dict[str, Any]:
    """Sections c and/or d through the widget API of the running system at ``base_url`` (the
    contact service, or a proxy in front of several). Its per-conversation and per-address limits
    must allow the load (:data:`UNLIMITED`)."""
    return asyncio.run(_measure(lambda session, name: WidgetConversation(session, base_url, name), texts, plan, parts, cpu))


def measure_rasa(base_url: str, texts: List[str], plan: Plan, parts: str = "cd",
                 cpu: Optional[CpuMeter] = None) -> Dict[str, Any]:
    """The same through Rasa's REST channel at ``base_url`` (stock Rasa has no contact service)."""
    return asyncio.run(_measure(lambda session, name: RestConversation(session, base_url, name), texts, plan, parts, cpu))


def _database(log_dir: Path) -> Dict[str, str]:
    # A database of its own, new for every run: the contact service's, where ours also keeps its
    # trackers (bot/tracker_store.py).
    log_dir.mkdir(parents=True, exist_ok=True)
    return {"DATABASE_URL": f"sqlite:///{log_dir / f'contact-{time.time_ns()}.db'}"}


def run_ours(model: Path, log_dir: Path, texts: List[str], plan: Plan, parts: str) -> Dict[str, Any]:
    """The embedded system (SQLite, one process of each kind) through the customer path."""
    print(f"Starting the system with {model.name} (logs: {log_dir})...", flush=True)
    env = {**_database(log_dir), **UNLIMITED}
    with Assistant(model, free_port(), free_port(), log_dir, contact_port=free_port(), service_env=env) as system:
        cpu = CpuMeter({"contact": system.processes[-1].pid, "rasa": system.rasa.pid, "actions": system.action_server.pid})
        return measure_system(system.contact_url, texts, plan, parts, cpu)


def run_stock(model: Path, log_dir: Path, texts: List[str], plan: Plan, parts: str) -> Dict[str, Any]:
    """Stock Rasa (its default tracker store) and our action server, through Rasa's REST channel."""
    print(f"Starting stock Rasa with {model.name} (logs: {log_dir})...", flush=True)
    with Assistant(model, free_port(), free_port(), log_dir, service_env=_database(log_dir), tracker_store=None) as rasa:
        cpu = CpuMeter({"rasa": rasa.rasa.pid, "actions": rasa.action_server.pid})
        return measure_rasa(rasa.rasa_url, texts, plan, parts, cpu)


def _percentile(latencies: List[float], q: float) -> Optional[float]:
    return float(np.percentile(latencies, q)) if latencies else None


async def _soak(base_url: str, customers: int, seconds: float, texts: List[str], pause: tuple) -> Dict[str, Any]:
    latencies: List[float] = []
    errors: List[str] = []
    sent: List[tuple] = []  # (conversation, client message id)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        # A fresh Rasa spends seconds on its first messages (lazy loading): not what a soak measures.
        await _conversation(WidgetConversation(session, base_url), _take(texts, 5))

        async def customer(index: int) -> WidgetConversation:
            conversation = WidgetConversation(session, base_url)
            await conversation.open()
            await asyncio.sleep(random.uniform(0, pause[1]))  # customers arrive spread out
            deadline = time.monotonic() + seconds
            for text in cycle(_take(texts, len(texts), index * 7)):
                if time.monotonic() >= deadline:
                    break
                message_id = secrets.token_hex(8)
                sent.append((conversation, message_id))
                started = time.perf_counter()
                try:
                    await conversation.say(text, message_id)
                    latencies.append(1000 * (time.perf_counter() - started))
                except Exception as error:  # counted, not fatal: the soak reports every failure
                    errors.append(f"{type(error).__name__}: {error}")
                await asyncio.sleep(random.uniform(*pause))
            return conversation

        conversations = await asyncio.gather(*(customer(i) for i in range(customers)))
        await asyncio.sleep(2)  # replies to a message that errored may still be on their way
        stored: Dict[int, Dict[str, List[int]]] = {}  # conversation: client message id -> replies after each copy
        for conversation in conversations:
            by_id: Dict[str, List[int]] = {}
            current: Optional[List[int]] = None
            for message in await conversation.history():
                if message["direction"] == "in":
                    current = by_id.setdefault(message["client_message_id"], [])
                    current.append(0)
                elif current is not None and message["sender"] == "bot":
                    current[-1] += 1
            stored[id(conversation)] = by_id
    lost = sum(1 for c, message_id in sent if not any(stored[id(c)].get(message_id, [])))
    duplicated = sum(1 for c, message_id in sent if len(stored[id(c)].get(message_id, [])) > 1)
    return {"customers": customers, "seconds": seconds, "messages": len(sent), "answered": len(latencies),
            "errors": len(errors), "error_samples": errors[:5], "lost": lost, "duplicated": duplicated,
            "p50_ms": _percentile(latencies, 50), "p99_ms": _percentile(latencies, 99),
            "max_ms": max(latencies) if latencies else None}


def soak(base_url: str, customers: int, minutes: float, texts: Optional[List[str]] = None,
         pause: tuple = (8.0, 12.0)) -> Dict[str, Any]:
    """``customers`` visitors, each writing a message every 8–12 s (``pause``) for ``minutes``
    against the widget API at ``base_url``, after 5 warm-up messages. Reports errors (a non-2xx answer, no reply), lost
    messages (sent, yet no reply stored in the conversation's history) and the latencies."""
    return asyncio.run(_soak(base_url, customers, 60 * minutes, texts or conversation_texts(), pause))


def sections(ours: Path, stock: Path, plan: Plan, parts: str, log_dir: Path) -> List[Section]:
    """Measure ours, then stock; ``parts`` holds "c" and/or "d"."""
    texts = conversation_texts()
    results = {"ours": run_ours(ours, log_dir / "ours", texts, plan, parts),
               "stock": run_stock(stock, log_dir / "stock", texts, plan, parts)}

    def row(name: str, part: str, metric: str, unit: str, better: str, headline: bool = False) -> Row:
        return Row(name, results["ours"][part][metric], results["stock"][part][metric], unit, better, headline)

    found: List[Section] = []
    way_in = ("Ours: the customer path, POST /api/v1/messages of the contact service (stored, answered by Rasa "
              "and the action server, replies stored), on SQLite, one process of each kind, the contact "
              "service's message and session limits raised for the run (CONTACT_MESSAGES_PER_MINUTE, "
              "CONTACT_SESSIONS_PER_MINUTE). Stock: POST /webhooks/rest/webhook of Rasa, our action server "
              "running. Both on loopback.")
    if "c" in parts:
        one, many = "1 conversation", f"{plan.conversations} concurrent conversations"
        rows = [
            row(f"{one}, p50 latency", "sequential", "p50_ms", "ms", "lower", headline=True),
            row(f"{one}, p99 latency", "sequential", "p99_ms", "ms", "lower"),
            row(f"{one}, throughput", "sequential", "throughput", "msg/s", "higher"),
            row(f"{many}, p50 latency", "concurrent", "p50_ms", "ms", "lower"),
            row(f"{many}, p99 latency", "concurrent", "p99_ms", "ms", "lower", headline=True),
            row(f"{many}, total throughput", "concurrent", "throughput", "msg/s", "higher", headline=True),
            Row(f"{many}, CPU per message (all server processes)", results["ours"]["cpu_ms_per_message"]["total"],
                results["stock"]["cpu_ms_per_message"]["total"], "ms", "lower"),
        ]
        cpu = "; ".join(f"{name}: " + ", ".join(f"{kind} {ms:.1f}" for kind, ms in results[name]["cpu_ms_per_message"].items())
                        for name in results)
        notes = [
            way_in,
            f"After {plan.warmup} warm-up messages. 1 conversation: {plan.sequential} messages one after another. "
            f"Concurrent: {plan.conversations} conversations × {plan.per_conversation} messages, each conversation "
            "sequential, all at once.",
            "Messages cycle through the held-out texts, alternating Chinese, English and mixed, without those "
            f"that hand the conversation to a person ({', '.join(sorted(HANDS_OVER))}).",
            f"CPU ms per message by process kind during the concurrent run ({cpu}); the load generator itself "
            "is not counted.",
        ]
        details = {name: {k: results[name][k] for k in ("sequential", "concurrent", "cpu_ms_per_message",
                                                        "client_cpu_ms_per_message")} for name in results}
        seconds = sum(results[name]["c_seconds"] for name in results)
        found.append(Section("c", "rest_latency", "Latency and throughput (ours: the customer path)", rows, notes,
                             details, seconds))
    if "d" in parts:
        n, w = plan.long_conversation, plan.window
        rows = [
            row(f"Median latency, messages 1–{w}", "long", "first_ms", "ms", "lower"),
            row(f"Median latency, messages {n - w + 1}–{n}", "long", "last_ms", "ms", "lower"),
            row(f"Growth (messages {n - w + 1}–{n} vs 1–{w})", "long", "growth", "x", "lower", headline=True),
        ]
        notes = [way_in,
                 f"One conversation of {n} messages; growth is the ratio of the two medians (1.00× = no growth)."]
        details = {name: results[name]["long"] for name in results}
        seconds = sum(results[name]["d_seconds"] for name in results)
        found.append(Section("d", "conversation_length", "Latency as a conversation grows", rows, notes, details,
                             seconds))
    return found
