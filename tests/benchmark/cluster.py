"""The cluster (bot/cluster.py) measured the way the embedded system is: section (c)'s load through
nginx, with CPU per process kind and database writes per message for the capacity model
(docs/capacity.md), and (s) the soak: many slow customers through nginx for minutes.

Each run gets a new PostgreSQL database and a Redis server of its own.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import psycopg2

from bot.cluster import Cluster, Layout
from tests.benchmark import load
from tests.benchmark.cpu import CpuMeter
from tests.benchmark.report import Row, Section
from tests.support.database import new_database
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer

SOAK_CUSTOMERS, SOAK_MINUTES = 200, 5.0
WRITES = ("xact_commit", "tup_inserted", "tup_updated", "tup_deleted", "wal_bytes")


@contextlib.contextmanager
def running_cluster(model: Path, log_dir: Path) -> Iterator[Cluster]:
    print(f"Starting the cluster with {model.name} (logs: {log_dir})...", flush=True)
    redis = RedisServer().start()
    try:
        with new_database("postgresql", log_dir) as database_url:
            with Cluster(model, log_dir, database_url, redis.url, Layout(port=free_port()), service_env=dict(load.UNLIMITED)) as cluster:
                yield cluster
    finally:
        redis.stop()


def _database_writes(database_url: str) -> Dict[str, int]:
    """PostgreSQL's running counts of commits and rows written in the cluster's database, and the
    bytes of write-ahead log the server has written (all its databases: the benchmark's alone)."""
    time.sleep(1.5)  # a backend reports its counts within a second of going idle
    with contextlib.closing(psycopg2.connect(database_url)) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(WRITES[:-1])}, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint "
                       "FROM pg_stat_database WHERE datname = current_database()")
        return dict(zip(WRITES, cursor.fetchone()))


def measure(model: Path, log_dir: Path, texts: List[str], plan: load.Plan) -> Dict[str, Any]:
    """Section (c)'s load through nginx, CPU per process kind and database writes per message."""
    with running_cluster(model, log_dir) as cluster:
        pids = {kind: [p.pid for p in processes if p is not None] for kind, processes in cluster.processes.items()}
        cpu = CpuMeter({**pids, "nginx": cluster.nginx.pid})
        before = _database_writes(cluster.database_url)
        results = load.measure_system(cluster.url, texts, plan, "c", cpu)
        after = _database_writes(cluster.database_url)
        # every message since `before`: the concurrent run's and the sequential one's
        messages = results["sequential"]["messages"] + results["concurrent"]["messages"]
        results["database_per_message"] = {name: (after[name] - before[name]) / messages for name in WRITES}
    return results


def soak_section(model: Path, log_dir: Path, customers: int = SOAK_CUSTOMERS, minutes: float = SOAK_MINUTES) -> Section:
    """(s) ``customers`` customers each writing every 8–12 s for ``minutes`` through nginx."""
    started = time.perf_counter()
    with running_cluster(model, log_dir) as cluster:
        result = load.soak(cluster.url, customers, minutes)
    rows = [
        Row("Messages sent", result["messages"], None, "", "higher"),
        Row("Errors", result["errors"], None, "", "lower", headline=True),
        Row("Lost (no reply stored)", result["lost"], None, "", "lower", headline=True),
        Row("Answered twice", result["duplicated"], None, "", "lower"),
        Row("p50 latency", result["p50_ms"], None, "ms", "lower"),
        Row("p99 latency", result["p99_ms"], None, "ms", "lower", headline=True),
    ]
    notes = [f"{customers} customers through nginx in front of the cluster (2 contact services, 2 Rasa servers, "
             f"2 action servers, PostgreSQL, Redis), each writing every 8–12 s for {minutes:g} minutes after "
             "5 warm-up messages; stock Rasa is not soaked (no contact service)."]
    return Section("s", "soak", "Soak through the cluster's load balancer", rows, notes, result,
                   time.perf_counter() - started)


def section(model: Path, log_dir: Path, plan: load.Plan, measured: Section) -> Section:
    """(e) The cluster through nginx beside stock Rasa and the embedded system of section (c)
    (``measured``, from the same run)."""
    started = time.perf_counter()
    cluster = measure(model, log_dir, load.conversation_texts(), plan)
    stock, embedded = measured.details["stock"], measured.details["ours"]
    one, many = "1 conversation", f"{plan.conversations} concurrent conversations"

    def row(name: str, part: str, metric: str, unit: str, better: str, headline: bool = False) -> Row:
        return Row(name, cluster[part][metric], stock[part][metric], unit, better, headline)

    rows = [
        row(f"{one}, p50 latency", "sequential", "p50_ms", "ms", "lower"),
        row(f"{many}, p50 latency", "concurrent", "p50_ms", "ms", "lower"),
        row(f"{many}, p99 latency", "concurrent", "p99_ms", "ms", "lower", headline=True),
        row(f"{many}, total throughput", "concurrent", "throughput", "msg/s", "higher", headline=True),
        Row(f"{many}, CPU per message (all server processes)", cluster["cpu_ms_per_message"]["total"],
            stock["cpu_ms_per_message"]["total"], "ms", "lower"),
    ]
    cpu = ", ".join(f"{kind} {ms:.1f}" for kind, ms in cluster["cpu_ms_per_message"].items())
    writes = ", ".join(f"{name} {value:.1f}" for name, value in cluster["database_per_message"].items())
    notes = [
        "Ours: the cluster (bot/cluster.py: nginx in front of 2 contact services, 2 Rasa servers behind nginx, "
        "2 action servers behind nginx; PostgreSQL; Redis), through nginx with the same load and texts as (c). "
        "Stock: stock Rasa's figures of (c), measured in the same run.",
        f"Cluster / embedded system of (c): throughput at {plan.conversations} concurrent "
        f"{cluster['concurrent']['throughput'] / embedded['concurrent']['throughput']:.2f}×, p99 "
        f"{cluster['concurrent']['p99_ms'] / embedded['concurrent']['p99_ms']:.2f}×, 1-conversation p50 "
        f"{cluster['sequential']['p50_ms'] / embedded['sequential']['p50_ms']:.2f}× (the same 2 cores).",
        f"CPU ms per message by process kind, all processes of a kind together: {cpu}.",
        f"PostgreSQL per message (pg_stat_database, every process, background jobs included): {writes} "
        "(xact_commit counts reading transactions too; wal_bytes is the server's write-ahead log).",
    ]
    return Section("e", "cluster", "The cluster through its load balancer", rows, notes,
                   {"cluster": cluster}, time.perf_counter() - started)
