"""What a channel is to the core (docs/architecture.md, "Channels as plug-ins").

A channel is a package under ``channels/`` with one class that satisfies :class:`Channel`, listed
once in ``channels/registry.py``. The HTTP app installs each; the core then only talks to them
through this interface: it never asks which channel a conversation is on, only what that
channel can do (:class:`Capabilities`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import os
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence

if TYPE_CHECKING:
    from prometheus_client.core import Metric
    from sqlalchemy.orm import Session

    from bot.core.models import Message
    from bot.handoff.models import Handoff


@dataclass(frozen=True)
class Capabilities:
    """What the agents' console and the handoff may count on for a conversation of the channel."""

    live_chat: bool = True  # the customer is in a chat: told when an agent joins or leaves, asked for a rating after
    replies_by_email: bool = False  # an agent's reply goes out as a mail in the ticket's thread


@dataclass(frozen=True)
class ConversationKind:
    """A value of ``conversations.channel`` a channel serves, with its name for people."""

    name: str  # "web", "app", "telegram", "email"
    labels: Dict[str, str] = field(default_factory=dict)  # {"zh": …, "en": …}


class Channel:
    """The interface; each method's default is what a channel without that part does."""

    name: str = ""  # the package's name
    kinds: Sequence[ConversationKind] = ()
    capabilities: Capabilities = Capabilities()
    migrations: Optional[Path] = None  # its own Alembic versions (the tables it owns), or None

    def install(self, app: Any, host: Any) -> None:
        """Add its routes and start/stop listeners to the HTTP ``app``; ``host`` gives the core
        (``host.conversations``) and the web toolkit the channel may use (bot/http/host.py)."""
        raise NotImplementedError

    async def deliver(self, message: "Message") -> None:
        """A stored outbound message is waiting (bot reply, agent reply, notice): send it, if it is
        for a conversation of this channel. Must not wait for the customer's service: channels
        that send slowly send from their own tasks (an outbox)."""
        return None

    async def notify(self, conversation_id: str, frame: Dict[str, Any]) -> None:
        """A live event for the customer (typing, queue position, a message echoed to other tabs)."""
        return None

    async def resolved(self, handoff: "Handoff") -> None:
        """An agent resolved a conversation of the channel that is no live chat (the handoff
        router tells live chats itself): what the channel does after (the email channel mails
        the satisfaction survey)."""
        return None

    async def details(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """What the console shows beside a conversation of the channel (an email's ticket), or None."""
        return None

    def link_offer(self) -> Optional[Dict[str, str]]:
        """For a channel a verified customer links to their account with a one-time code
        (Telegram): what the widget shows to offer it, or None."""
        return None

    def link_url(self, code: str) -> Optional[str]:
        """The link that redeems a one-time ``code`` in the channel, or None."""
        return None

    def metrics(self, session: "Session") -> Iterable["Metric"]:
        """Counts of the channel's own tables for ``/metrics``, read at each scrape in the
        core's session (bot/core/metrics.py)."""
        return ()

    def quality(self, session: "Session", board: Any) -> None:
        """Add the channel's own indicators to the supervisors' quality dashboard
        (bot/quality/indicators.py), computed in the dashboard's session."""
        return None

    @staticmethod
    def problems(environ: Mapping[str, str] = os.environ) -> List[str]:
        """Why the channel's settings cannot work (it would refuse to start), each naming its
        variable; checked by the production check before anything listens (bot/server/production.py)."""
        return []

    @staticmethod
    def secrets(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
        """The channel's secrets by variable, which production requires to be long enough when set."""
        return {}
