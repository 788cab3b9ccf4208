"""Hands customer messages to Rasa's REST channel on loopback and collects the replies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import aiohttp

from bot import knowledge


class AssistantUnavailable(Exception):
    """Rasa or the action server did not answer."""


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
    def __init__(self, base_url: str, timeout: float, token: str = ""):
        self.base_url = base_url.rstrip("/")
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
        try:
            async with self._http.get(self.base_url + "/", timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def parse(self, text: str) -> Dict[str, Any]:
        """What the assistant's NLU understands in ``text`` (intent, confidence, entities, the
        FAQ topic), without a conversation: Rasa's ``/model/parse`` (its HTTP API, which the
        launcher enables with a token)."""
        try:
            async with self._http.post(self.base_url + "/model/parse", json={"text": text},
                                       params={"token": self.token}) as response:
                if response.status != 200:
                    raise AssistantUnavailable(f"Rasa answered HTTP {response.status}")
                return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise AssistantUnavailable(str(error) or type(error).__name__) from error

    async def send(self, conversation_id: str, text: str, metadata: Dict[str, Any]) -> "AssistantAnswer":
        """The assistant's replies, each ``{"text", "buttons", "disclosure", "action"}``, its
        request to hand the conversation to a person, if it made one, and what it understood."""
        body = {"sender": conversation_id, "message": text, "metadata": metadata}
        try:
            async with self._http.post(self.url, json=body) as response:
                if response.status != 200:
                    raise AssistantUnavailable(f"Rasa answered HTTP {response.status}")
                replies = await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise AssistantUnavailable(str(error) or type(error).__name__) from error
        answer = read_replies(replies)
        if not answer.replies:
            # Every customer message gets an answer from this assistant; none means the
            # action server failed (Rasa swallows that and replies with nothing).
            raise AssistantUnavailable("the assistant produced no reply")
        return answer
