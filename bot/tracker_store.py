"""Rasa's tracker store for this assistant: conversations kept short enough to stay fast.

Rasa replays, copies and serialises a conversation's whole tracker for every message (loading it,
``applied_events`` several times per prediction, the request to the action server), so the time
to answer grows with the conversation: measured 34× slower after 400 messages (docs/nlu.md,
benchmark section d). A session boundary would bound it, but sessions only end after an hour of
silence, and a Telegram chat or a long email thread is one conversation for months.

Every turn of this assistant depends only on the latest message, the slots and the active form
(data/rules.yml holds one-turn rules only; actions look back at most a few customer messages), so
the events before the latest turns can be replaced by the state they produced without changing
a single answer. :func:`compact` does that, :class:`CompactingTrackerStore` applies it when a
tracker is saved with more than ``max_events`` events. Configured in Rasa's endpoints file
(``tracker_store: type: bot.tracker_store.CompactingTrackerStore``; bot/launcher.py writes it).

Each conversation's (compacted) tracker is one row of ``assistant_trackers`` in the contact
service's database (``DATABASE_URL``; migration 0016), written on every save: a restart of Rasa
loses no form under way (a complaint confirmed while Rasa restarted is filed when the contact
service's retry reaches it), and several Rasa processes could share the conversations. Compaction
keeps the row small, so writing it whole costs about what Rasa's in-memory store spent serialising.
The assistant's records — messages, complaints, bookings, surveys — are the contact service's.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActionExecutionRejected, ActiveLoop, ConversationPaused, Event, LoopInterrupted, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, get_trackers_for_conversation_sessions
from sqlalchemy import Column, DateTime, String, Text, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker

from bot import rasa_speedups
from bot.core.db import sessions_for
from bot.core.models import Base
from bot.core.settings import database_url


# A customer message adds about eight events (the message, the action, the understanding
# marker, the answers, slots, listening). 100 events are some 12 messages: compacting then keeps
# the latest KEEP_TURNS messages, so a tracker holds between about 40 and 100 events (200 and 8
# were tried first: no faster on the benchmark's long conversation, and twice the memory).
MAX_EVENTS = 100
KEEP_TURNS = 5
# Metadata of a compacted tracker's session start: what the customer asked before the kept turns
# (the survey after a goodbye is offered only when they asked for something, actions/survey.py).
EARLIER_INTENTS = "earlier_intents"


def compact(tracker: DialogueStateTracker, keep_turns: int = KEEP_TURNS) -> Optional[DialogueStateTracker]:
    """The same conversation state with only the latest ``keep_turns`` customer messages, or
    ``None`` when it cannot be shortened.

    The cut goes before a customer message; the events before it are replaced by a session
    start, the slots they had set (what Rasa's own ``action_session_start`` does when it carries
    slots over) and, inside a form, the form's execution and state. A cut is used only when
    replaying that prefix gives exactly the state the original events had at that point, so the
    slots, the active form, the latest message and action, and each rule's view of the latest
    turns are unchanged.
    """
    events = list(tracker.events)
    replay = tracker.init_copy()
    cuts: List[Tuple[int, State]] = []  # (index of a customer message, the state just before it)
    for index, event in enumerate(events):
        if isinstance(event, UserUttered):
            cuts.append((index, state_of(replay)))
        replay.update(event)
    # Latest first; never before the first message, where only the session's start would go.
    for index, state in reversed(cuts[1 : len(cuts) - keep_turns + 1]):
        shortened = tracker.init_copy()
        for event in _prefix(state, events[index - 1].timestamp, earlier_intents(events[:index])):
            shortened.update(event)
        if state_of(shortened) != state:
            continue  # a state these events cannot reproduce (a pending follow-up action)
        for event in events[index:]:
            shortened.update(event)
        return shortened
    return None


class State(NamedTuple):
    """What the next events of a tracker act on."""

    slots: Dict[str, Any]  # those not at their initial value
    loop: Optional[Tuple[str, bool, bool]]  # the active form: name, interrupted, rejected
    latest_action: Optional[str]
    followup_action: Optional[str]
    paused: bool


def state_of(tracker: DialogueStateTracker) -> State:
    loop = tracker.active_loop
    return State(
        slots={name: slot.value for name, slot in tracker.slots.items() if slot.value != slot.initial_value},
        loop=(loop.name, loop.is_interrupted, loop.rejected) if loop and loop.name else None,
        latest_action=(tracker.latest_action or {}).get("action_name"),
        followup_action=tracker.followup_action,
        paused=tracker.is_paused(),
    )


def earlier_intents(events: List[Event]) -> List[str]:
    """The intents of the customer messages in ``events``, including those of earlier compactions
    (kept on the session start, :data:`EARLIER_INTENTS`)."""
    found = set()
    for event in events:
        if isinstance(event, SessionStarted):
            found.update((event.metadata or {}).get(EARLIER_INTENTS) or [])
        elif isinstance(event, UserUttered) and event.intent_name:
            found.add(event.intent_name)
    return sorted(found)


def _prefix(state: State, timestamp: float, intents: List[str]) -> List[Event]:
    """Events producing ``state`` from an empty tracker, stamped ``timestamp``; the session start
    keeps the intents of the messages they replace. (A pending follow-up action has no event
    here: such a state does not match and the cut is not used.)"""
    events: List[Event] = [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=timestamp),
        SessionStarted(timestamp=timestamp, metadata={EARLIER_INTENTS: intents}),
        *(SlotSet(name, value, timestamp=timestamp) for name, value in state.slots.items()),
    ]
    if state.loop:
        name, interrupted, rejected = state.loop
        # The form ran before: Rasa then treats its next run as the happy path continuing.
        events += [ActionExecuted(name, timestamp=timestamp), ActiveLoop(name, timestamp=timestamp)]
        if rejected:
            events.append(ActionExecutionRejected(name, timestamp=timestamp))
    if state.latest_action:
        events.append(ActionExecuted(state.latest_action, timestamp=timestamp))
    if state.loop and interrupted:  # after the latest action, which would clear it
        events.append(LoopInterrupted(True, timestamp=timestamp))
    if state.paused:
        events.append(ConversationPaused(timestamp=timestamp))
    return events


class AssistantTracker(Base):
    """A conversation's tracker as Rasa serialises it (compacted)."""

    __tablename__ = "assistant_trackers"
    sender_id = Column(String(255), primary_key=True)
    tracker = Column(Text, nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)


class TrackerTable:
    """Serialised trackers by conversation, in the contact service's database. Synchronous: the
    store calls it off Rasa's event loop."""

    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def get(self, sender_id: str) -> Optional[str]:
        with self.sessions() as session:
            return session.execute(select(AssistantTracker.tracker).where(AssistantTracker.sender_id == sender_id)).scalar()

    def put(self, sender_id: str, serialised: str) -> None:
        # One statement, insert or update (both databases have the upsert), instead of reading
        # the row first: this runs for every message.
        with self.sessions() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            values = {"sender_id": sender_id, "tracker": serialised, "updated_at": datetime.now(timezone.utc)}
            upsert = dialect.insert(AssistantTracker).values(**values)
            session.execute(upsert.on_conflict_do_update(index_elements=["sender_id"], set_={
                "tracker": upsert.excluded.tracker, "updated_at": upsert.excluded.updated_at}))
            session.commit()

    def keys(self) -> List[str]:
        with self.sessions() as session:
            return list(session.execute(select(AssistantTracker.sender_id)).scalars())


class CompactingTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Rasa's tracker store for this assistant: long trackers saved compacted, each conversation's
    tracker kept in the database (see the module's docstring). Rasa passes the endpoint's ``url``
    as ``host``: a database URL there overrides ``DATABASE_URL``."""

    def __init__(self, domain: Domain, event_broker: Any = None, max_events: int = MAX_EVENTS,
                 keep_turns: int = KEEP_TURNS, host: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        rasa_speedups.install()  # this is the Rasa process: remove Rasa's avoidable per-message costs
        self.table = TrackerTable(sessions_for(host or database_url()))
        self.max_events = int(max_events)
        self.keep_turns = int(keep_turns)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)  # an event broker still gets every event, as it happened
        if len(tracker.events) > self.max_events:
            tracker = compact(tracker, self.keep_turns) or tracker
        await asyncio.to_thread(self.table.put, tracker.sender_id, self.serialise_tracker(tracker))

    async def keys(self) -> Iterable[str]:
        return await asyncio.to_thread(self.table.keys)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The tracker's latest session (what Rasa predicts from)."""
        tracker = await self.retrieve_full_tracker(sender_id)
        if tracker is None:
            return None
        sessions = get_trackers_for_conversation_sessions(tracker)
        return sessions[-1] if len(sessions) > 1 else tracker

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        serialised = await asyncio.to_thread(self.table.get, sender_id)
        return self.deserialise_tracker(sender_id, serialised) if serialised else None
