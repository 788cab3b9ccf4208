"""Hands customer messages to Rasa's REST channel on loopback and collects the replies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import aiohttp

from bot import knowledge


class AssistantUnavailable(Exception):
    """Rasa or the action server is down: every message waits until it is back."""


class AnswerFailed(AssistantUnavailable):
    """Rasa and the action server are up but could not answer this message (an error on it, a
    time-out, or no reply): retried a few times with backoff, then parked (Conversations.answer)."""


def as_customer_words(text: str) -> str:
    """What a customer wrote, as Rasa must read it: plain words.

    Rasa reads a message that starts with "/" (after surrounding whitespace) as intent syntax
    (``/restart``, ``/rate{"rating": "5"}``, ``/EXTERNAL_survey``) and skips its NLU, so customer
    text would be commands. The leading slashes are dropped ("/help" means "help"); text that is
    nothing but slashes becomes a full-width "／", which Rasa does not read as a prefix.
    """
    words = text.strip()
    while words.startswith("/"):
        words = words[1:].strip()
    return words or "／"


def split_disclosure(text: str) -> Dict[str, Any]:
    """Separate the risk disclosure the actions put at the end of product and market answers."""
    for language in ("zh", "en"):
        disclosure = knowledge.risk_disclosure(language)
        if text.endswith(disclosure):
            return {"text": text[: -len(disclosure)].rstrip(), "disclosure": disclosure}
    return {"text": text, "disclosure": None}


@dataclass
class AssistantAnswer:
    replies: List[Dict[str, Any]]  # {"text", "disclosure", "buttons", "action"}
    handoff: Optional[Dict[str, Any]] = None  # {"reason", "urgent", "summary", "complaint_reference"}
    understanding: Optional[Dict[str, Any]] = None  # {"intent", "confidence", "action"}: the first action's


def read_replies(items: List[Dict[str, Any]]) -> AssistantAnswer:
    """Rasa's REST output: the texts, each with the action that said it (the ``understanding``
    marker an action sends ahead of its messages, actions/base.py), and the handoff request."""
    replies, handoff, understanding, action = [], None, None, None
    for item in items:
        custom = item.get("custom") if isinstance(item.get("custom"), dict) else {}
        if isinstance(custom.get("understanding"), dict):
            action = custom["understanding"].get("action")
            understanding = understanding or custom["understanding"]
        if "handoff" in custom:
            handoff = custom["handoff"]
        if item.get("text"):
            replies.append({**split_disclosure(item["text"]), "buttons": item.get("buttons") or [], "action": action})
    return AssistantAnswer(replies, handoff, understanding)


class RasaClient:
    def __init__(self, base_url: str, timeout: float, token: str = "", actions_url: str = ""):
        self.base_url = base_url.rstrip("/")
        self.actions_url = actions_url.rstrip("/")  # the action server, asked whether it is up after a failure
        self.token = token
        self.url = f"{self.base_url}/webhooks/rest/webhook"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._http:
            await self._http.close()

    async def alive(self) -> bool:
        """Whether Rasa answers at all (for /health)."""
        return await self._answers(self.base_url + "/")

    async def _answers(self, url: str) -> bool:
        try:
            async with self._http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def _failed(self, reason: str) -> AssistantUnavailable:
        """The error for a message the assistant did not answer: an outage when Rasa or the action
        server does not answer its health check now (no action server configured: Rasa's only),
        else a failure of this message."""
        up = await self.alive() and (not self.actions_url or await self._answers(self.actions_url + "/health"))
        return AnswerFailed(reason) if up else AssistantUnavailable(reason)

    async def parse(self, text: str) -> Dict[str, Any]:
        """What the assistant's NLU understands in ``text`` (intent, confidence, entities, the
        FAQ topic), without a conversation: Rasa's ``/model/parse`` (its HTTP API, which the
        launcher enables with a token)."""
        try:
            async with self._http.post(self.base_url + "/model/parse", json={"text": as_customer_words(text)},
                                       params={"token": self.token}) as response:
                if response.status != 200:
                    raise AssistantUnavailable(f"Rasa answered HTTP {response.status}")
                return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise AssistantUnavailable(str(error) or type(error).__name__) from error

    async def send(self, conversation_id: str, text: str, metadata: Dict[str, Any],
                   payload: Optional[str] = None) -> "AssistantAnswer":
        """The assistant's replies, each ``{"text", "buttons", "disclosure", "action"}``, its
        request to hand the conversation to a person, if it made one, and what it understood.

        ``text`` is a customer's and goes as plain words (:func:`as_customer_words`); ``payload``
        is intent syntax this service issued itself (a button it sent, ``/EXTERNAL_survey``) and
        goes as it is. Raises AssistantUnavailable when Rasa or the action server is down,
        AnswerFailed when they are up but this message got no answer."""
        body = {"sender": conversation_id, "message": payload or as_customer_words(text), "metadata": metadata}
        try:
            async with self._http.post(self.url, json=body) as response:
                if response.status != 200:
                    raise await self._failed(f"Rasa answered HTTP {response.status}")
                replies = await response.json()
        except asyncio.TimeoutError:
            raise await self._failed("Rasa did not answer in time") from None
        except aiohttp.ClientError as error:
            raise AssistantUnavailable(str(error) or type(error).__name__) from error
        answer = read_replies(replies if isinstance(replies, list) else [])
        if not answer.replies:
            # Every customer message gets an answer from this assistant; none means an action
            # failed (Rasa swallows that and replies with nothing) or the action server is down.
            raise await self._failed("the assistant produced no reply")
        return answer
