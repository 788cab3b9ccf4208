"""Puts the triage verdict (bot/complaints/triage.py) into the intent, after the classifier.

Whether a message is urgent is decided by triage on every message, not learned: a threat of
harm or a stolen account must reach the emergency process whatever else the message is about,
and an insult with 骗子 in it must not. So, last in the pipeline:

- urgent → ``report_fraud`` (action_report_fraud files the urgent complaint);
- a password, code, ID or card number offered → ``security_advice`` (the warning);
- read as ``report_fraud`` but not urgent → ``file_complaint`` for anger or a grievance about
  charges (a complaint is offered), ``security_advice`` otherwise (a prevention question, news, a hypothesis).

Any other reading is left as the classifier made it. The classifier's reading is kept in
``intent_ranking``; an overridden intent has confidence 1.0.
"""

from __future__ import annotations

from typing import List, Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.complaints import triage
from bot.nlu.stateless import StatelessComponent

SECURITY_ADVICE = "security_advice"
COMPLAINT = "file_complaint"


def triaged_intent(text: str, intent: Optional[str]) -> Optional[str]:
    """The intent the message should have after triage, or None to keep the classifier's."""
    verdict = triage.decide(text, intent)
    if verdict.urgent:
        return None if intent == triage.FRAUD_INTENT else triage.FRAUD_INTENT
    if verdict.verdict == triage.SECRET_OFFERED:
        return None if intent == SECURITY_ADVICE else SECURITY_ADVICE
    if intent == triage.FRAUD_INTENT:
        return COMPLAINT if verdict.verdict == triage.COMPLAINT else SECURITY_ADVICE
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class TriageOverride(StatelessComponent):
    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            current = message.get(INTENT) or {}
            new = triaged_intent(text, current.get("name"))
            if new is None:
                continue
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != new]
            message.set(INTENT, {"name": new, "confidence": 1.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [{"name": new, "confidence": 1.0}] + ranking, add_to_output=True)
        return messages
