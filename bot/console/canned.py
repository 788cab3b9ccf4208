"""Canned replies for the console (bot/knowledge/canned_replies.yml): the set offered in a
conversation is in the customer's language, whatever the agent's console language; each reply's
button is named in both, for the console to pick the agent's."""

from __future__ import annotations

from typing import Any, Dict, List

from bot import knowledge


def replies(language: str, name: str) -> List[Dict[str, Any]]:
    """The canned replies in ``language`` (zh unless en), ``{name}`` filled with the agent's name:
    ``[{"key", "labels": {"zh", "en"}, "text"}]``."""
    language = "en" if language == "en" else "zh"
    return [{"key": key, "labels": reply["label"], "text": reply[language].format(name=name)}
            for key, reply in knowledge.load("canned_replies").items()]
