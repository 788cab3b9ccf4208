"""The review of misunderstood messages and the early warnings through the console API, with the
real processes: a message the assistant did not understand is listed for supervisors (never
agents), labelled, and exported as training data Rasa reads; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

import urllib.request

from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from tests.support.clients import Client, Console
from tests.support.system import IN_HOURS


pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty

GIBBERISH = "zxcv qwpo mnbv 13812345678"


def test_a_misunderstood_message_is_labelled_and_exported(system):
    customer = Client(system.contact_url)
    customer.start()
    customer.say(GIBBERISH)
    supervisor = Console(system.contact_url).log_in(DEMO_SUPERVISOR)
    status, listed = supervisor.call("GET", "/console/api/quality/review")
    assert status == 200
    [item] = [i for i in listed["items"] if i["text"].startswith("zxcv")]
    assert item["text"] == "zxcv qwpo mnbv 138****5678" and item["reason"] == "fallback" and item["label"] is None
    assert "faq/fees" in listed["intents"] and "ignore" in listed["intents"]

    status, _ = supervisor.call("POST", f"/console/api/quality/review/{item['message_id']}/label", {"intent": "nonsense"})
    assert status == 422
    status, _ = supervisor.call("POST", f"/console/api/quality/review/{item['message_id']}/label", {"intent": "out_of_scope"},
                                csrf=False)
    assert status == 403  # no CSRF token
    status, _ = supervisor.call("POST", f"/console/api/quality/review/{item['message_id']}/label", {"intent": "out_of_scope"})
    assert status == 200
    status, listed = supervisor.call("GET", "/console/api/quality/review?status=labelled")
    assert [i["label"] for i in listed["items"] if i["message_id"] == item["message_id"]] == ["out_of_scope"]

    request = urllib.request.Request(system.contact_url + "/console/api/quality/review/export.yml")
    with supervisor.opener.open(request, timeout=30) as response:
        exported = response.read().decode()
        assert response.headers["Content-Disposition"].startswith("attachment;")
    examples = {(m.get("intent"), m.get("text")) for m in RasaYAMLReader().reads(exported).intent_examples}
    assert ("out_of_scope", "zxcv qwpo mnbv 138****5678") in examples


def test_agents_see_neither_the_review_nor_the_warnings(system):
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    for path in ("/console/api/quality/review", "/console/api/quality/warnings"):
        status, answer = agent.call("GET", path)
        assert status == 403 and answer["error"]["code"] == "forbidden"


def test_early_warnings_for_the_supervisor(system):
    supervisor = Console(system.contact_url).log_in(DEMO_SUPERVISOR)
    status, answer = supervisor.call("GET", "/console/api/quality/warnings?days=3&baseline=28")
    assert status == 200 and (answer["days"], answer["baseline"]) == (3, 28) and isinstance(answer["warnings"], list)
    status, answer = supervisor.call("GET", "/console/api/quality/warnings?days=0")
    assert status == 400 and "days" in answer["error"]["message"]
