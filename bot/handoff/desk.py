"""Queues of conversations waiting for an agent, and the moves between assistant and agents.

Every move changes the handoff and the conversation's ``owner`` in one transaction, so the
contact service always knows who answers (``bot``, ``queued``, ``agent``), across restarts and
Rasa session expiry. Order (spec): urgent first, then tier (private > premier > standard), then
waiting time; the ``private`` queue holds private-tier customers, urgent cases head every queue.
Messages left for the agents come after the customers waiting live (docs/architecture.md,
"Honest waiting"). Moves that several processes may race to make (a claim, the closing sweep, an
acknowledgement due) are conditional UPDATEs of the handoff's row: one of them changes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Callable, Collection, Dict, List, Optional

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.errors import Conflict, InvalidChange
from bot.core.models import Conversation
from bot.core.staff import find_active
from bot.handoff.models import QUEUES, TIER_RANK, Handoff

OPEN = ("waiting", "with_agent")
Recorder = Optional[Callable[[Session, Handoff], None]]
DEFAULT_HANDLING_MINUTES = 6.0  # until there is history to estimate from
RECENT = 20  # resolved handoffs the handling-time estimate looks at


@dataclass(frozen=True)
class HandoffRequest:
    conversation_id: str
    reason: str
    tier: str
    language: str
    customer_id: Optional[str] = None
    urgent: bool = False
    summary: Optional[str] = None
    complaint_reference: Optional[str] = None
    channel: str = "web"


def queue_for(tier: str) -> str:
    return "private" if tier == "private" else "general"


def order_key(handoff: Handoff):
    return (not handoff.urgent, handoff.left_message_at is not None, TIER_RANK.get(handoff.tier, len(TIER_RANK)),
            handoff.requested_at, handoff.id)


@dataclass(frozen=True)
class Wait:
    """What a customer waiting live is told: their place, and how long from the agents online now.

    ``minutes`` is None when an agent has a free slot for them (served shortly) or when no agent is
    online (``agents_online`` 0: no estimate can be honest)."""

    position: int
    agents_online: int
    minutes: Optional[int]

    @property
    def ahead(self) -> int:
        return self.position - 1


def moved(session: Session, handoff_id: int, *conditions, **values) -> bool:
    """Change a waiting handoff if it still is (and meets ``conditions``): the conditional UPDATE
    takes the row's lock, so of several processes making the same move one does it."""
    done = session.execute(update(Handoff).where(Handoff.id == handoff_id, Handoff.state == "waiting", *conditions)
                           .values(**values).execution_options(synchronize_session=False))
    return done.rowcount == 1


class HandoffDesk:
    def __init__(self, sessions: sessionmaker, capacity: int = 3):
        self.sessions = sessions
        self.capacity = capacity  # conversations one agent handles at once

    def request(self, wanted: HandoffRequest, now: datetime) -> Handoff:
        """The conversation's open handoff, made now if there is none (an urgent request makes an
        open one urgent)."""
        with self.sessions() as session:
            handoff = self.request_in(session, wanted, now)
            session.commit()
            return handoff

    @classmethod
    def request_in(cls, session: Session, wanted: HandoffRequest, now: datetime) -> Handoff:
        """``request`` in the caller's transaction (flushed, not committed): a channel that
        queues a conversation together with what caused it (the email channel)."""
        handoff = cls._open(session, wanted.conversation_id)
        if handoff is None:
            handoff = Handoff(
                conversation_id=wanted.conversation_id, customer_id=wanted.customer_id, tier=wanted.tier,
                language=wanted.language, channel=wanted.channel, reason=wanted.reason, queue=queue_for(wanted.tier),
                urgent=wanted.urgent, summary=wanted.summary, complaint_reference=wanted.complaint_reference,
                state="waiting", requested_at=now,
            )
            session.add(handoff)
            session.get(Conversation, wanted.conversation_id).owner = "queued"
        else:
            if handoff.state == "waiting" and handoff.left_message_at is not None:
                # Asking for an agent again after leaving a message: waiting live from now on.
                handoff.left_message_at, handoff.requested_at, handoff.callback_offered_at = None, now, None
                session.get(Conversation, wanted.conversation_id).owner = "queued"
            if wanted.urgent and not handoff.urgent:
                handoff.urgent, handoff.reason = True, wanted.reason
                handoff.complaint_reference = handoff.complaint_reference or wanted.complaint_reference
        session.flush()
        return handoff

    def waiting(self, queue: Optional[str] = None) -> List[Handoff]:
        """Waiting handoffs in serving order; of one queue (with every urgent case) if given."""
        with self.sessions() as session:
            query = select(Handoff).where(Handoff.state == "waiting")
            if queue:
                query = query.where(or_(Handoff.queue == queue, Handoff.urgent.is_(True)))
            return sorted(session.execute(query).scalars(), key=order_key)

    @staticmethod
    def positions(waiting: List[Handoff]) -> Dict[int, int]:
        """Each waiting handoff's place in its queue (1 = served next), from one ``waiting()`` list."""
        return {
            h.id: 1 + sum(1 for other in waiting
                          if (other.queue == h.queue or other.urgent) and order_key(other) < order_key(h))
            for h in waiting
        }

    def handling_minutes(self) -> float:
        """How long agents took over recent conversations (median)."""
        with self.sessions() as session:
            recent = session.execute(
                select(Handoff.claimed_at, Handoff.resolved_at).where(Handoff.state == "resolved", Handoff.claimed_at.is_not(None))
                .order_by(Handoff.resolved_at.desc()).limit(RECENT)
            ).all()
        return median([(resolved - claimed).total_seconds() / 60 for claimed, resolved in recent] or [DEFAULT_HANDLING_MINUTES])

    def busy_since(self, agent_ids: Collection[str]) -> List[datetime]:
        """When each conversation the given agents have now was claimed."""
        if not agent_ids:
            return []
        with self.sessions() as session:
            query = select(Handoff.claimed_at).where(Handoff.state == "with_agent", Handoff.agent_id.in_(list(agent_ids)))
            return [claimed for (claimed,) in session.execute(query)]

    def wait(self, position: int, agents_online: int, busy_since: List[datetime], handling: float, now: datetime) -> Wait:
        """The wait of the customer at ``position`` from the agents online, the conversations they
        have (claimed at ``busy_since``) and recent handling times: a free slot serves them
        shortly; else they wait until the slot they need frees (a busy conversation's expected end,
        or one handling time after a customer ahead takes a slot free now)."""
        slots = agents_online * self.capacity
        if slots == 0:
            return Wait(position, 0, None)
        free = max(0, slots - len(busy_since))
        if position <= free:
            return Wait(position, agents_online, None)
        ends = sorted([max(0.5, handling - (now - claimed).total_seconds() / 60) for claimed in busy_since] + [handling] * free)
        needed = position - free - 1  # 0: the first slot to free up
        minutes = ends[needed % len(ends)] + (needed // len(ends)) * handling
        return Wait(position, agents_online, max(1, math.ceil(minutes)))

    def open_for(self, conversation_id: str) -> Optional[Handoff]:
        with self.sessions() as session:
            return self._open(session, conversation_id)

    def get(self, handoff_id: int) -> Optional[Handoff]:
        with self.sessions() as session:
            return session.get(Handoff, handoff_id)

    def with_agent(self, agent_id: Optional[str] = None) -> List[Handoff]:
        """Conversations agents have now (one agent's, if given)."""
        with self.sessions() as session:
            query = select(Handoff).where(Handoff.state == "with_agent")
            if agent_id:
                query = query.where(Handoff.agent_id == agent_id)
            return list(session.execute(query.order_by(Handoff.claimed_at)).scalars())

    def claim(self, handoff_id: int, agent_id: str, now: datetime, record: Recorder = None) -> Handoff:
        with self.sessions() as session:
            handoff = self._locked(session, handoff_id)
            if handoff.state != "waiting":
                raise Conflict("This conversation is no longer waiting: another agent has it, or it has ended.")
            self._assign(session, handoff, agent_id, now)
            return self._commit(session, handoff, record)

    def transfer(self, handoff_id: int, agent_id: str, now: datetime, to_queue: Optional[str] = None,
                 to_agent: Optional[str] = None, record: Recorder = None) -> Handoff:
        """Hand an agent's conversation to another queue (it waits there, keeping its place in
        time) or straight to another agent."""
        if (to_queue is None) == (to_agent is None):
            raise InvalidChange("Give either a queue or an agent to transfer to.")
        if to_queue is not None and to_queue not in QUEUES:
            raise InvalidChange(f"queue must be one of {', '.join(QUEUES)}.")
        with self.sessions() as session:
            handoff = self._mine(session, handoff_id, agent_id)
            if to_agent:
                self._assign(session, handoff, to_agent, now)
            else:
                handoff.queue, handoff.state, handoff.agent_id, handoff.claimed_at = to_queue, "waiting", None, None
                session.get(Conversation, handoff.conversation_id).owner = "queued"
            return self._commit(session, handoff, record)

    def resolve(self, handoff_id: int, agent_id: str, now: datetime, record: Recorder = None) -> Handoff:
        """The agent is done: the conversation goes back to the assistant."""
        with self.sessions() as session:
            handoff = self._mine(session, handoff_id, agent_id)
            handoff.state, handoff.resolved_at = "resolved", now
            session.get(Conversation, handoff.conversation_id).owner = "bot"
            return self._commit(session, handoff, record)

    def withdraw(self, conversation_id: str, now: datetime) -> Optional[Handoff]:
        """A waiting customer leaves the queue (cancelled, or took a callback instead): the
        assistant answers again. None if nothing was waiting (an agent took it meanwhile)."""
        with self.sessions() as session:
            handoff = self._open(session, conversation_id)
            if handoff is None or not moved(session, handoff.id, state="withdrawn", resolved_at=now):
                return None
            session.get(Conversation, conversation_id).owner = "bot"
            session.commit()
            session.refresh(handoff)
            return handoff

    def leave_message(self, conversation_id: str, now: datetime) -> Optional[Handoff]:
        """The waiting customer leaves a message for the agents instead of waiting live: it stays
        in the queue, after the live waits, and what they write goes on to the agents."""
        with self.sessions() as session:
            handoff = self._open(session, conversation_id)
            if handoff is None or not moved(session, handoff.id, Handoff.left_message_at.is_(None), left_message_at=now):
                return None
            session.commit()
            session.refresh(handoff)
            return handoff

    def acknowledge(self, handoff_id: int, now: datetime, every: timedelta) -> bool:
        """Whether the customer should be told now that their message reached the agents: at most
        once ``every`` (one process of several wins)."""
        with self.sessions() as session:
            due = or_(Handoff.acknowledged_at.is_(None), Handoff.acknowledged_at <= now - every)
            told = moved(session, handoff_id, due, acknowledged_at=now)
            session.commit()
            return told

    def offer_callbacks(self, now: datetime, after: timedelta, channels: Collection[str]) -> List[Handoff]:
        """Customers of the live-chat ``channels`` waiting live for ``after`` without an agent, not
        offered a callback yet: marked offered (once; one process of several gets each)."""
        with self.sessions() as session:
            query = select(Handoff.id).where(
                Handoff.state == "waiting", Handoff.left_message_at.is_(None), Handoff.callback_offered_at.is_(None),
                Handoff.requested_at <= now - after, Handoff.channel.in_(list(channels)))
            offered = []
            for handoff_id in session.execute(query).scalars().all():
                if moved(session, handoff_id, Handoff.callback_offered_at.is_(None), Handoff.left_message_at.is_(None),
                               callback_offered_at=now):
                    session.commit()
                    offered.append(session.execute(select(Handoff).where(Handoff.id == handoff_id)).scalar_one())
            return offered

    @staticmethod
    def _commit(session: Session, handoff: Handoff, record: Recorder) -> Handoff:
        if record:
            record(session, handoff)  # the audit entry, in the same transaction
        session.commit()
        return handoff

    @staticmethod
    def _open(session: Session, conversation_id: str) -> Optional[Handoff]:
        query = select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.state.in_(OPEN))
        return session.execute(query).scalars().first()

    @staticmethod
    def _locked(session: Session, handoff_id: int) -> Handoff:
        """The handoff, read after a write to its row: the write takes PostgreSQL's row lock or
        SQLite's database lock, so two agents claiming at once are served one after the other and
        the second reads the first's claim."""
        touched = session.execute(update(Handoff).where(Handoff.id == handoff_id).values(id=Handoff.id))
        if touched.rowcount == 0:
            raise Conflict("No such conversation in the queue.")
        return session.execute(select(Handoff).where(Handoff.id == handoff_id)).scalar_one()

    def _mine(self, session: Session, handoff_id: int, agent_id: str) -> Handoff:
        handoff = self._locked(session, handoff_id)
        if handoff.state != "with_agent" or handoff.agent_id != agent_id:
            raise Conflict("Only the agent who has this conversation can do that.")
        return handoff

    def _assign(self, session: Session, handoff: Handoff, agent_id: str, now: datetime) -> None:
        if find_active(session, agent_id) is None:
            raise InvalidChange(f"{agent_id} is not an active staff member.")
        busy = session.execute(
            select(func.count()).select_from(Handoff).where(Handoff.state == "with_agent", Handoff.agent_id == agent_id)
        ).scalar_one()
        if busy >= self.capacity:
            raise Conflict(f"{agent_id} already has {busy} conversations, the most one agent takes at once.")
        handoff.state, handoff.agent_id, handoff.claimed_at = "with_agent", agent_id, now
        session.get(Conversation, handoff.conversation_id).owner = "agent"
