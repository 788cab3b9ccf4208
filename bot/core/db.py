"""Database connection and schema migrations (SQLite by default, PostgreSQL by DATABASE_URL)."""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

MIGRATIONS = Path(__file__).parent / "migrations"
STARTUP_LOCK = 1_403_000_018  # PostgreSQL advisory lock: start-up writes take turns (taking_turns)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A file database keeps its connections in a pool (SQLAlchemy 1.4 opens and closes one per
        # session: with the pragmas below, a tenth of a message's database time; 2.0's default).
        pool = {"poolclass": QueuePool, "pool_size": 10, "max_overflow": 20} if path and path != ":memory:" else {}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10)


def migrate(engine: Engine, channel_migrations: Sequence[Path] = ()) -> None:
    """Bring the schema up to the newest migration: the core's and the channels' own folders of
    versions (``channels.registry.migrate`` passes them)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in (MIGRATIONS / "versions", *channel_migrations)))
    config.attributes["url"] = str(engine.url)
    config.attributes["engine"] = engine
    with taking_turns(engine):  # the processes after the first find nothing to do
        command.upgrade(config, "heads")


@contextlib.contextmanager
def taking_turns(engine: Engine) -> Iterator[None]:
    """What processes starting at once (a cluster, a rollout) write at start — migrations, the
    demo accounts — done by one at a time: on PostgreSQL an advisory lock held by a connection of
    its own (it ends with the connection, even on SIGKILL); SQLite serialises writers itself."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK})


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


@lru_cache(maxsize=None)
def sessions_for(url: str) -> sessionmaker:
    """One engine and session factory per database, for processes that only read and write
    (the action server); the launcher and the contact service run the migrations."""
    return session_factory(make_engine(url))
