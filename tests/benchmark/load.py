"""(c) Latency and throughput and (d) growth with conversation length, over the REST channel.

Each assistant runs as real processes (action server + ``rasa run``, started by
:class:`bot.launcher.Assistant` on free loopback ports), one assistant at a time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from itertools import cycle, islice, zip_longest
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp
import numpy as np

from bot.launcher import TRACKER_STORE, Assistant
from tests.benchmark import heldout
from tests.benchmark.report import Row, Section
from tests.support.ports import free_port


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
    """Held-out messages, alternating Chinese, English and mixed."""
    per_lang = [[e.get("text") for e in found] for found in heldout.load_examples().values()]
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


async def _conversation(session: aiohttp.ClientSession, url: str, sender: str, texts: List[str]) -> List[float]:
    """Send ``texts`` one after another as ``sender``; return each reply's latency in ms."""
    latencies = []
    for text in texts:
        started = time.perf_counter()
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            response.raise_for_status()
            await response.json()
        latencies.append(1000 * (time.perf_counter() - started))
    return latencies


async def _measure(url: str, texts: List[str], plan: Plan, parts: str) -> Dict[str, Any]:
    results: Dict[str, Any] = {}
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        await _conversation(session, url, "warmup", _take(texts, plan.warmup))
        if "c" in parts:
            part_started = started = time.perf_counter()
            latencies = await _conversation(session, url, "sequential", _take(texts, plan.sequential))
            results["sequential"] = _latency(latencies, time.perf_counter() - started)
            started = time.perf_counter()
            per_conversation = await asyncio.gather(*(
                _conversation(session, url, f"concurrent-{i}", _take(texts, plan.per_conversation, i * plan.per_conversation))
                for i in range(plan.conversations)
            ))
            results["concurrent"] = _latency([ms for c in per_conversation for ms in c], time.perf_counter() - started)
            results["c_seconds"] = time.perf_counter() - part_started
        if "d" in parts:
            started = time.perf_counter()
            latencies = await _conversation(session, url, "long", _take(texts, plan.long_conversation))
            first, last = statistics.median(latencies[: plan.window]), statistics.median(latencies[-plan.window :])
            results["long"] = {"messages": len(latencies), "first_ms": first, "last_ms": last, "growth": last / first,
                               "latencies_ms": latencies}
            results["d_seconds"] = time.perf_counter() - started
    return results


def _run(model: Path, log_dir: Path, texts: List[str], plan: Plan, parts: str, tracker_store: Optional[str]) -> Dict[str, Any]:
    print(f"Starting assistant with {model.name} (logs: {log_dir})...", flush=True)
    # A database of its own: ours keeps its trackers there (bot/tracker_store.py), new for every run.
    log_dir.mkdir(parents=True, exist_ok=True)
    database = {"DATABASE_URL": f"sqlite:///{log_dir / f'contact-{time.time_ns()}.db'}"}
    with Assistant(model, free_port(), free_port(), log_dir, service_env=database, tracker_store=tracker_store) as assistant:
        return asyncio.run(_measure(f"{assistant.rasa_url}/webhooks/rest/webhook", texts, plan, parts))


def sections(ours: Path, stock: Path, plan: Plan, parts: str, log_dir: Path) -> List[Section]:
    """Measure ours, then stock; ``parts`` holds "c" and/or "d"."""
    texts = conversation_texts()
    # Stock Rasa keeps its default tracker store; ours compacts long conversations (bot/tracker_store.py).
    results = {name: _run(model, log_dir / name, texts, plan, parts, store)
               for name, model, store in (("ours", ours, TRACKER_STORE), ("stock", stock, None))}

    def row(name: str, part: str, metric: str, unit: str, better: str, headline: bool = False) -> Row:
        return Row(name, results["ours"][part][metric], results["stock"][part][metric], unit, better, headline)

    found: List[Section] = []
    if "c" in parts:
        one, many = "1 conversation", f"{plan.conversations} concurrent conversations"
        rows = [
            row(f"{one}, p50 latency", "sequential", "p50_ms", "ms", "lower", headline=True),
            row(f"{one}, p99 latency", "sequential", "p99_ms", "ms", "lower"),
            row(f"{one}, throughput", "sequential", "throughput", "msg/s", "higher"),
            row(f"{many}, p50 latency", "concurrent", "p50_ms", "ms", "lower"),
            row(f"{many}, p99 latency", "concurrent", "p99_ms", "ms", "lower"),
            row(f"{many}, total throughput", "concurrent", "throughput", "msg/s", "higher", headline=True),
        ]
        notes = [
            f"POST /webhooks/rest/webhook on loopback, action server running; after {plan.warmup} warm-up messages. "
            f"1 conversation: {plan.sequential} messages one after another. Concurrent: {plan.conversations} "
            f"conversations × {plan.per_conversation} messages, each conversation sequential, all at once.",
            "Messages cycle through the held-out texts, alternating Chinese, English and mixed.",
        ]
        details = {name: {k: results[name][k] for k in ("sequential", "concurrent")} for name in results}
        seconds = sum(results[name]["c_seconds"] for name in results)
        found.append(Section("c", "rest_latency", "Latency and throughput over the REST channel", rows, notes,
                             details, seconds))
    if "d" in parts:
        n, w = plan.long_conversation, plan.window
        rows = [
            row(f"Median latency, messages 1–{w}", "long", "first_ms", "ms", "lower"),
            row(f"Median latency, messages {n - w + 1}–{n}", "long", "last_ms", "ms", "lower"),
            row(f"Growth (messages {n - w + 1}–{n} vs 1–{w})", "long", "growth", "x", "lower", headline=True),
        ]
        notes = [f"One conversation of {n} messages; growth is the ratio of the two medians (1.00× = no growth)."]
        details = {name: results[name]["long"] for name in results}
        seconds = sum(results[name]["d_seconds"] for name in results)
        found.append(Section("d", "conversation_length", "Latency as a conversation grows", rows, notes, details,
                             seconds))
    return found
