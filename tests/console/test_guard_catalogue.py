"""The console's words for the compliance guard (docs/compliance.md): every rule of
bot/compliance.py has its reason for the agent (``guard.rule.<rule>``) and its short name for the
supervisors' list (``overrides.rule.<rule>``) in both catalogues, with only the placeholders a
finding fills; every error code the agents' routes answer has its ``error.<code>``."""

from __future__ import annotations

import re

import pytest

from bot import compliance
from bot.console import i18n

FINDING_FIELDS = {"span", "product", "product_risk", "customer_level"}  # what a finding may fill (agents.py, Finding)
# The codes the agents' routes (bot/console/agents.py) answer, besides those of any route
# (bot/http/errors.py): the guard's refusal, and the console WebSocket's limit.
AGENT_ERRORS = ("compliance_check", "too_many_connections", "conflict", "invalid_change", "not_found", "invalid_request",
                "forbidden", "unauthorized", "csrf_failed", "too_large", "unavailable")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("rule", compliance.RULES)
def test_every_rule_has_its_reason_and_its_name(rule, language):
    reason = i18n.text(f"guard.rule.{rule}", language)
    assert set(re.findall(r"\{(\w+)\}", reason)) <= FINDING_FIELDS
    assert "{span}" in reason, "the agent sees which words were found"
    assert i18n.text(f"overrides.rule.{rule}", language) != rule


@pytest.mark.parametrize("code", AGENT_ERRORS)
def test_every_error_of_the_agents_routes_has_its_words(code):
    assert i18n.text(f"error.{code}", "zh") != i18n.text(f"error.{code}", "en")
