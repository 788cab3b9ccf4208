"""Leases: a job that one process at a time may run, among the contact-service processes sharing
the database (docs/architecture.md, "Background jobs with several processes").

A lease is a row of ``leases`` (name, holder, expires_at). It is taken, or renewed by its
holder, with one conditional UPDATE (ours or expired), or an ``INSERT … ON CONFLICT DO NOTHING``
when there is no row yet; of several processes trying at once the database lets one through.
The holder renews it every third of its term while the job runs and stops the job as soon as a
renewal fails, before the term runs out; a process killed with SIGKILL simply stops renewing and
another one takes the lease over once the term has passed. The jobs' own writes stay
conditional where they were (belt and braces for a holder stalled longer than a term). Plain rows rather than PostgreSQL
advisory locks: the same code works on SQLite (the embedded default), no connection is held for
as long as the job runs, and who holds what can be read in the table.

Times are the processes' own UTC clocks (not the service clock, which demos and tests freeze):
the hosts' clocks are assumed to agree to well within a term (NTP).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime, timedelta
from secrets import token_hex
from typing import Awaitable, Callable, Optional

from sqlalchemy import Column, DateTime, String, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker

from bot.core.models import Base, utcnow

logger = logging.getLogger(__name__)


class Lease(Base):
    __tablename__ = "leases"
    name = Column(String(120), primary_key=True)  # "email-mailbox", "telegram:tg-123" …
    holder = Column(String(120), nullable=False)  # host:pid:random of the holding process
    expires_at = Column(DateTime(timezone=True), nullable=False)


class LeaseLost(Exception):
    """A renewal failed while the lease's job ran: the job was stopped."""


class Leases:
    """This process's side of the leases: ``holder`` names it; ``seconds`` is a lease's term."""

    def __init__(self, sessions: sessionmaker, seconds: float, holder: Optional[str] = None,
                 clock: Callable[[], datetime] = utcnow):
        self.sessions = sessions
        self.seconds = seconds
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{token_hex(3)}"
        self.clock = clock

    def take(self, name: str) -> bool:
        """Take the lease ``name`` for a term if it is free or expired, or renew it if it is ours;
        whether this process holds it now."""
        now = self.clock()
        until = now + timedelta(seconds=self.seconds)
        with self.sessions() as session:
            taken = session.execute(
                update(Lease).where(Lease.name == name, or_(Lease.holder == self.holder, Lease.expires_at <= now))
                .values(holder=self.holder, expires_at=until).execution_options(synchronize_session=False)).rowcount
            if not taken:  # no row yet, or held by another process (then nothing is inserted)
                insert = (postgresql if session.bind.dialect.name == "postgresql" else sqlite).insert
                taken = session.execute(insert(Lease).values(name=name, holder=self.holder, expires_at=until)
                                        .on_conflict_do_nothing(index_elements=["name"])).rowcount
            session.commit()
            return taken == 1

    def release(self, name: str) -> None:
        """Give the lease up at once (a clean stop: another process need not wait out the term)."""
        with self.sessions() as session:
            session.execute(delete(Lease).where(Lease.name == name, Lease.holder == self.holder))
            session.commit()

    async def run_held(self, name: str, job: Callable[[], Awaitable[None]]) -> bool:
        """Run ``job()`` holding the lease ``name``: False (not run) when another process holds it.
        The lease is renewed every third of its term and given up when the job ends; if a renewal
        fails, the job is cancelled and LeaseLost raised."""
        if not await asyncio.to_thread(self.take, name):
            return False
        task = asyncio.ensure_future(job())
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.seconds / 3)
                if done:
                    task.result()  # the job's exception, if any
                    return True
                try:
                    renewed = await asyncio.wait_for(asyncio.to_thread(self.take, name), self.seconds / 3)
                except Exception as error:  # the database is away: we cannot know we still hold it
                    logger.warning("renewing the lease %s failed: %s", name, error)
                    renewed = False
                if not renewed:
                    raise LeaseLost(name)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            try:
                await asyncio.to_thread(self.release, name)
            except Exception:  # the term runs out by itself
                logger.warning("releasing the lease %s failed", name, exc_info=True)

    async def lead(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job()`` (a job meant to run for ever) whenever this process holds the lease
        ``name``: the one process of several that does it; another takes over within a term
        when this one dies or loses the database. Runs until cancelled."""
        while True:
            try:
                if await self.run_held(name, job):
                    logger.warning("the job of lease %s ended; it starts again", name)
            except LeaseLost:
                logger.warning("lost the lease %s; its job stopped until this process holds it again", name)
            except Exception:
                logger.exception("the job of lease %s failed", name)
            await asyncio.sleep(self.seconds / 3)
