"""The assistant as a cluster on one machine: several processes of each kind behind nginx.

``python -m bot.cluster`` (``make cluster``) runs, by default, 2 action servers, 2 Rasa servers and
2 contact services on PostgreSQL and Redis, and nginx (Debian's package) on 127.0.0.1:8080 in
front of the contact services, WebSockets included. nginx also spreads Rasa's requests over the
Rasa servers and Rasa's action calls over the action servers, so any process of a kind may die and
the others take its work: every Rasa server reads and writes the same trackers (bot/tracker_store.py,
in PostgreSQL) under Rasa's own Redis lock store; every contact service shares the database and
Redis (rate limits, live events, agents online). Production deployments run the same processes
under systemd or Kubernetes (deploy/); docs/architecture.md, "A cluster (issue #18)".

Settings come from the environment: ``DATABASE_URL`` (default: a database ``evergreen`` on the
local PostgreSQL server, created if absent), ``REDIS_URL`` (default: the local Redis, started if
absent), the counts ``CLUSTER_CONTACT``, ``CLUSTER_RASA``, ``CLUSTER_ACTIONS`` and ``CLUSTER_PORT``.
Tests use :class:`Cluster` on free ports and kill its processes one by one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import urlsplit

import psycopg2
from psycopg2 import sql

from bot.launcher import HOST, ROOT, TRACKER_STORE, _wait_until_up, rasa_token, run_until_stopped
from bot.server.production import refuse_unsafe_start
from bot.core.db import make_engine
from channels.registry import migrate

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/evergreen"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# A Rasa server killed while it held a conversation's lock: the next message of that
# conversation waits at most this long (Rasa's TICKET_LOCK_LIFETIME; its default is 60 s).
LOCK_LIFETIME_SECONDS = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class Layout:
    """How many processes of each kind, and the ports: ``port`` is the load balancer's (the
    only one customers and agents reach); the others are chosen free unless given."""

    contact: int = 2
    rasa: int = 2
    actions: int = 2
    port: int = 8080
    rasa_port: int = 0  # the load balancer's port for Rasa (contact services → Rasa servers)
    actions_port: int = 0  # … for the action servers (Rasa servers → action servers)
    ports: Dict[str, List[int]] = field(default_factory=dict)  # kind -> each process's port

    def __post_init__(self) -> None:
        self.rasa_port = self.rasa_port or free_port()
        self.actions_port = self.actions_port or free_port()
        for kind in ("contact", "rasa", "actions"):
            self.ports.setdefault(kind, [free_port() for _ in range(getattr(self, kind))])


def ensure_postgres_database(url: str) -> None:
    """Create the database of ``url`` on its server if it does not exist."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl().replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(admin)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def ensure_redis(url: str) -> None:
    """Start a local Redis server for ``url`` if nothing answers there (its data not kept on disk,
    as on this machine kind); a remote one must already run."""
    parts = urlsplit(url)
    host, port = parts.hostname or HOST, parts.port or 6379
    try:
        socket.create_connection((host, port), timeout=1).close()
        return
    except OSError:
        if host not in ("127.0.0.1", "localhost"):
            raise RuntimeError(f"Redis at {host}:{port} does not answer") from None
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
                    "--save", "", "--appendonly", "no"], check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Redis did not start on port {port}")


def nginx_config(layout: Layout, workdir: Path) -> str:
    """nginx in front of each kind: contact services (with WebSockets) on ``layout.port``, Rasa
    servers and action servers on their own loopback ports. A request that could not reach a
    process (refused, reset before an answer) goes to the next one; a request already sent to a
    process that then died is answered 502, and the client sends it again (the contact API's
    ``client_message_id`` makes that safe; Rasa's callers retry too). The Host header goes on
    with its port: the console compares a request's Origin with it."""

    def upstream(name: str, ports: List[int]) -> str:
        servers = "\n".join(f"    server {HOST}:{port} max_fails=1 fail_timeout=3s;" for port in ports)
        return f"  upstream {name} {{\n{servers}\n    keepalive 32;\n  }}\n"

    def server(port: int, upstream_name: str, read_timeout: str, extra: str = "") -> str:
        return (f"  server {{\n    listen {HOST}:{port};\n    client_max_body_size 1m;\n"
                # Bodies and answers stay in memory: nginx's workers (``nobody`` when started by
                # root) may not reach a private work folder for temporary files.
                "    client_body_buffer_size 1m;\n    proxy_max_temp_file_size 0;\n"
                f"    location / {{\n      proxy_pass http://{upstream_name};\n      proxy_http_version 1.1;\n"
                f"      proxy_set_header Host $http_host;\n      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                f"      proxy_set_header X-Forwarded-Proto $scheme;\n      proxy_read_timeout {read_timeout};\n"
                f"      proxy_next_upstream error timeout http_502 http_503;\n      proxy_next_upstream_tries 3;\n"
                f"{extra}    }}\n  }}\n")

    websockets = ("      proxy_set_header Upgrade $http_upgrade;\n"
                  "      proxy_set_header Connection $connection_upgrade;\n")
    temp = workdir / "nginx-temp"
    return (
        f"daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\nerror_log {workdir / 'nginx-error.log'} warn;\n"
        "events {\n  worker_connections 4096;\n}\n"
        "http {\n"
        f"  access_log off;\n  client_body_temp_path {temp}/body;\n  proxy_temp_path {temp}/proxy;\n"
        f"  fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n  scgi_temp_path {temp}/scgi;\n"
        # keep-alive to the upstreams unless the client asks for a WebSocket
        "  map $http_upgrade $connection_upgrade {\n    default upgrade;\n    '' '';\n  }\n"
        + upstream("contact_services", layout.ports["contact"])
        + upstream("rasa_servers", layout.ports["rasa"])
        + upstream("action_servers", layout.ports["actions"])
        + server(layout.port, "contact_services", "1h", websockets)  # an idle WebSocket is closed after an hour
        + server(layout.rasa_port, "rasa_servers", "60s")
        + server(layout.actions_port, "action_servers", "60s")
        + "}\n"
    )


def endpoints(actions_url: str, redis_url: str) -> str:
    """Rasa's endpoints: the action servers behind nginx, the trackers in the database, and the
    conversation locks in Redis (Rasa's RedisLockStore), so any Rasa server may take any message."""
    redis = urlsplit(redis_url)
    db = (redis.path or "/0").lstrip("/") or "0"
    lines = [f'action_endpoint:\n  url: "{actions_url}/webhook"', f"tracker_store:\n  type: {TRACKER_STORE}",
             "lock_store:\n  type: redis", f"  url: {redis.hostname or HOST}", f"  port: {redis.port or 6379}",
             f"  db: {db}", "  key_prefix: evergreen"]
    if redis.password:
        lines.append(f"  password: {redis.password}")
    return "\n".join(lines) + "\n"


class Cluster:
    """The processes of a cluster, as children of this one. ``kill(kind, i)`` ends one with
    SIGKILL (no clean shutdown), ``start_process(kind, i)`` starts it again on its port."""

    def __init__(self, model: Path, workdir: Path, database_url: str, redis_url: str,
                 layout: Optional[Layout] = None, service_env: Optional[Dict[str, str]] = None):
        self.model, self.workdir = model, workdir
        self.database_url, self.redis_url = database_url, redis_url
        self.layout = layout or Layout()
        self.service_env = service_env or {}
        self.rasa_token = rasa_token(self.service_env)
        self.processes: Dict[str, List[Optional[subprocess.Popen]]] = {}
        self.nginx: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        """The load balancer: what customers and agents reach."""
        return f"http://{HOST}:{self.layout.port}"

    def url_of(self, kind: str, index: int) -> str:
        return f"http://{HOST}:{self.layout.ports[kind][index]}"

    def _environment(self) -> Dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "SANIC_HOST": HOST, "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url, "RASA_API_TOKEN": self.rasa_token,
                "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME_SECONDS), **self.service_env}

    def _command(self, kind: str, port: int) -> List[str]:
        if kind == "actions":
            return ["bot.action_server", "--actions", "actions", "--port", str(port)]
        if kind == "rasa":
            return ["rasa", "run", "--model", str(self.model), "--endpoints", str(self.workdir / "endpoints.yml"),
                    "--credentials", "credentials.yml", "--interface", HOST, "--port", str(port), "--enable-api",
                    f"--auth-token={self.rasa_token}"]
        return ["bot.server"]

    def _health(self, kind: str, index: int) -> str:
        return self.url_of(kind, index) + ("/" if kind == "rasa" else "/health")

    def _spawn(self, kind: str, index: int) -> subprocess.Popen:
        port = self.layout.ports[kind][index]
        env = self._environment()
        if kind == "contact":
            env.update({"CONTACT_HOST": HOST, "CONTACT_PORT": str(port), "RASA_URL": f"http://{HOST}:{self.layout.rasa_port}",
                        "ACTIONS_URL": f"http://{HOST}:{self.layout.actions_port}", "TRUSTED_PROXIES": HOST})
        with open(self.workdir / f"{kind}-{index + 1}.log", "ab") as log:
            return subprocess.Popen([sys.executable, "-m", *self._command(kind, port)], cwd=ROOT, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)

    def start_process(self, kind: str, index: int, timeout: float = 180) -> None:
        """Start (again) the ``index``-th process of ``kind`` and wait until it answers."""
        process = self._spawn(kind, index)
        self.processes[kind][index] = process
        _wait_until_up(self._health(kind, index), process, timeout)

    def kill(self, kind: str, index: int) -> None:
        """SIGKILL the ``index``-th process of ``kind``: it dies at once, whatever it was doing."""
        process = self.processes[kind][index]
        if process is not None:
            process.kill()
            process.wait()
            self.processes[kind][index] = None

    def start(self, timeout: float = 240) -> "Cluster":
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "nginx-temp").mkdir(exist_ok=True)
        migrate(make_engine(self.database_url))  # once, before any process reads the tables
        (self.workdir / "endpoints.yml").write_text(endpoints(f"http://{HOST}:{self.layout.actions_port}", self.redis_url))
        config = self.workdir / "nginx.conf"
        config.write_text(nginx_config(self.layout, self.workdir))
        try:
            self.nginx = subprocess.Popen([NGINX, "-c", str(config), "-p", str(self.workdir)], stderr=subprocess.DEVNULL)
            # Start every process of a kind at once (they load in parallel), kinds in order of need.
            for kind in ("actions", "rasa", "contact"):
                self.processes[kind] = [self._spawn(kind, index) for index in range(len(self.layout.ports[kind]))]
                for index, process in enumerate(self.processes[kind]):
                    _wait_until_up(self._health(kind, index), process, timeout)
            _wait_until_up(f"{self.url}/health", self.nginx, 30)
        except Exception:
            self.stop()
            raise
        return self

    def running(self) -> List[subprocess.Popen]:
        return [p for group in self.processes.values() for p in group if p is not None] + ([self.nginx] if self.nginx else [])

    def stop(self) -> None:
        for process in self.running():
            if process.poll() is None:
                process.terminate()
        for process in self.running():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self.nginx = None

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz")
    args = parser.parse_args()
    refuse_unsafe_start()
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    if database_url.startswith("postgresql"):
        ensure_postgres_database(database_url)
    ensure_redis(redis_url)
    layout = Layout(contact=int(os.environ.get("CLUSTER_CONTACT", 2)), rasa=int(os.environ.get("CLUSTER_RASA", 2)),
                    actions=int(os.environ.get("CLUSTER_ACTIONS", 2)), port=int(os.environ.get("CLUSTER_PORT", 8080)))
    workdir = Path(tempfile.mkdtemp(prefix="evergreen-cluster-"))
    cluster = Cluster(args.model, workdir, database_url, redis_url, layout).start()
    names = {"contact": "contact services", "rasa": "Rasa servers", "actions": "action servers"}
    database = urlsplit(database_url)
    print(f"\nEvergreen Wealth assistant is running as a cluster (logs: {workdir}):\n"
          f"  load balancer (nginx)   {cluster.url}/   (demo website, app API, console at /console/)\n"
          + "".join(f"  {names[kind]:<22}  {', '.join(cluster.url_of(kind, i) for i in range(len(ports)))}\n"
                    for kind, ports in layout.ports.items())
          + f"  on database {database.path.lstrip('/')} at {database.hostname}, Redis {redis_url}\n"
          "Ctrl-C stops everything.", flush=True)
    run_until_stopped(cluster.running, cluster.stop)


if __name__ == "__main__":
    main()
