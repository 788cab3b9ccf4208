"""Throw-away databases (SQLite in a folder, or a new database on the local PostgreSQL server)
and small queries of what the services stored."""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from datetime import timedelta
from typing import Any, Iterator, List

import psycopg2
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.core.models import Conversation
from bot.core.staff import save
from bot.handoff.desk import HandoffDesk, HandoffRequest
from tests.support.trackers import NOW

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
KINDS = ["sqlite", "postgresql"]


def postgres_admin(statement: str) -> None:
    connection = psycopg2.connect(POSTGRES_ADMIN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


@contextlib.contextmanager
def new_database(kind: str, folder: Path) -> Iterator[str]:
    """A new, empty database of ``kind`` ("sqlite": a file in ``folder``); yields its URL. A
    PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'contact.db'}"
        return
    name = f"evergreen_test_{secrets.token_hex(4)}"
    postgres_admin(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _select(model, where) -> Any:
    query = select(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return query


def rows(database_url: str, model, **where) -> List[Any]:
    """The rows of ``model`` whose columns equal ``where``."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.execute(_select(model, where)).scalars())
    finally:
        engine.dispose()


def stored(database_url: str, model, **where) -> Any:
    """The one row of ``model`` whose columns equal ``where`` (fails unless exactly one)."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return session.execute(_select(model, where)).scalar_one()
    finally:
        engine.dispose()


def resolved_handoff(sessions, conversation_id: str):
    """A conversation an agent (amy) took and handed back."""
    with sessions() as session:
        save(session, "amy", "Amy", "agent")
        session.add(Conversation(id=conversation_id, channel="app", owner="bot"))
        session.commit()
    desk = HandoffDesk(sessions)
    handoff = desk.request(HandoffRequest(conversation_id, "customer_request", "premier", "en"), NOW)
    desk.claim(handoff.id, "amy", NOW + timedelta(minutes=1))
    return desk.resolve(handoff.id, "amy", NOW + timedelta(minutes=9))
