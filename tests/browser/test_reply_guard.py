"""The compliance guard in the agent console (docs/compliance.md, "The guard on agents' replies"):
a customer in the chat widget, an agent in the Chinese console, a supervisor on the English
quality dashboard, three browser contexts against the real contact service and assistant with
the clock frozen inside agent hours. A draft breaking a rule is stopped with its reason shown
beside the composer; the agent edits it, appends the risk disclosure, or sends it anyway with a
reason, which the supervisor then reads. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from bot import knowledge
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from bot.service_hours import SHANGHAI
from tests.support.browser import CHROMIUM
from tests.support.system import IN_HOURS

pytestmark = [pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
), pytest.mark.usefixtures("empty_queue_afterwards")]

from playwright.sync_api import expect  # noqa: E402

from tests.support.console_page import (  # noqa: E402
    DATE_TIME, console, console_messages, conversation_id, foreign_texts, log_in, logged_in, queue_row, text,
)
from tests.support.widget import ANSWER, log, open_widget, say  # noqa: E402

PROMISE = "放心，这笔投资保本，收益很稳定。"  # promise_of_returns: 保本
EDITED = "投资有风险，收益以实际为准，我帮您看看适合您的方案。"  # breaks no rule
NAMED = "您可以了解一下长青稳盈债券A。"  # missing_disclosure: a product named without the disclosure
RISKY = "这款理财稳赚不赔，您放心。"  # promise_of_returns: 稳赚不赔
REASON = "客户要求逐字转述理财经理的原话"



def agent_bubbles(talk):
    """What the customer's widget shows from the agent."""
    return log(talk).locator(".egw-msg--agent .egw-bubble")


def selected_text(page):
    return page.evaluate("() => { const r = document.getElementById('reply-input'); return r.value.slice(r.selectionStart, r.selectionEnd); }")


def test_a_draft_breaking_the_rules_is_stopped_edited_or_sent_anyway_and_a_supervisor_reads_why(chromium):
    # a verified customer waits for a person (one no other browser test serves, so the conversation is
    # this test's alone); an agent of the Chinese console claims them
    agent = console(chromium)
    log_in(agent, DEMO_AGENT, language="zh")
    logged_in(agent, "Demo Agent", "zh")
    talk = chromium.page()
    talk.goto(chromium.base_url + "/?as=demo-expired")
    open_widget(talk)
    say(talk, "我要转人工")
    expect(talk.get_by_role("status").filter(has_text="正在排队等候人工客服")).to_be_visible(timeout=ANSWER)
    conversation = conversation_id(talk)
    queue_row(agent, conversation).get_by_role("button", name=text("action.claim", "zh")).click()
    expect(log(talk)).to_contain_text("客服 Demo Agent 已接入", timeout=ANSWER)
    reply = agent.get_by_label(text("reply.label", "zh"))
    expect(reply).to_be_focused()
    guard = agent.locator("#guard")
    expect(guard).to_be_hidden()
    sent = agent_bubbles(talk).count()  # a returning customer's conversation may hold earlier replies
    in_console = console_messages(agent, "agent").count()

    # a draft promising 保本 is stopped: the reason beside the composer, the words marked, the draft kept
    reply.fill(PROMISE)
    reply.press("Enter")
    expect(guard).to_be_visible()
    expect(guard.get_by_role("alert")).to_contain_text(text("guard.title", "zh"))
    finding = guard.locator('[data-rule="promise_of_returns"]')
    expect(finding.locator(".c-guard-why")).to_have_text(text("guard.rule.promise_of_returns", "zh", span="保本"))
    expect(finding.locator("mark")).to_have_text("保本")
    expect(reply).to_have_value(PROMISE)
    expect(guard.get_by_role("button", name=text("guard.append", "zh"))).to_be_hidden()  # no product named
    assert foreign_texts(agent, "zh") == []
    chromium.shot(agent, "refused")

    # Edit: back in the draft with the words selected; the edited reply goes, and only it
    guard.get_by_role("button", name=text("guard.edit", "zh")).click()
    expect(reply).to_be_focused()
    assert selected_text(agent) == "保本"
    reply.fill(EDITED)
    reply.press("Enter")
    expect(reply).to_have_value("")
    expect(guard).to_be_hidden()
    expect(agent_bubbles(talk)).to_have_count(sent + 1)
    expect(agent_bubbles(talk).last).to_have_text(EDITED)
    expect(console_messages(agent, "agent")).to_have_count(in_console + 1)

    # a product named without the risk disclosure: "Append the disclosure" sends it with the
    # customer's-language disclosure, and needs no override
    reply.fill(NAMED)
    reply.press("Enter")
    finding = guard.locator('[data-rule="missing_disclosure"]')
    expect(finding.locator(".c-guard-why")).to_have_text(
        text("guard.rule.missing_disclosure", "zh", span="长青稳盈债券A", product="EG-BD02"))
    expect(agent_bubbles(talk)).to_have_count(sent + 1)  # nothing went
    guard.get_by_role("button", name=text("guard.append", "zh")).click()
    expect(guard).to_be_hidden()
    expect(reply).to_have_value("")
    expect(agent_bubbles(talk)).to_have_count(sent + 2)
    expect(agent_bubbles(talk).last).to_have_text(NAMED + "\n" + knowledge.risk_disclosure("zh"))

    # another draft breaking a rule, sent anyway: a reason is required, then it goes as written
    reply.fill(RISKY)
    reply.press("Enter")
    expect(guard.locator('[data-rule="promise_of_returns"] mark')).to_have_text("稳赚不赔")
    guard.get_by_role("button", name=text("guard.send_anyway", "zh")).click()
    reason = agent.get_by_label(text("guard.reason_label", "zh"))
    expect(reason).to_be_focused()
    send = guard.get_by_role("button", name=text("guard.send_with_reason", "zh"))
    send.click()
    expect(agent.locator("#guard-reason-error")).to_have_text(text("guard.reason_missing", "zh"))
    expect(reason).to_be_focused()
    assert foreign_texts(agent, "zh") == []
    chromium.shot(agent, "reason")
    expect(agent_bubbles(talk)).to_have_count(sent + 2)  # still nothing sent
    reason.fill(REASON)
    send.click()
    expect(guard).to_be_hidden()
    expect(reply).to_have_value("")
    expect(agent_bubbles(talk)).to_have_count(sent + 3)
    expect(agent_bubbles(talk).last).to_have_text(RISKY)
    expect(agent_bubbles(talk).filter(has_text="保本")).to_have_count(0)  # the refused draft never reached the customer
    chromium.shot(talk, "customer")

    # a supervisor (English) sees the override on the quality dashboard: who, which rule, why, what went
    supervisor = console(chromium)
    log_in(supervisor, DEMO_SUPERVISOR)
    logged_in(supervisor, "Demo Supervisor")
    # audit entries carry the real clock; the dashboard's period covers it and the frozen day
    days = sorted({datetime.fromisoformat(IN_HOURS).date().isoformat(), datetime.now(SHANGHAI).date().isoformat()})
    supervisor.goto(f"{chromium.base_url}/console/quality?from={days[0]}&to={days[-1]}")
    overrides = supervisor.locator("#compliance-overrides")
    expect(overrides.get_by_role("heading", name="Replies sent despite the compliance guard")).to_be_visible()
    row = overrides.locator("tbody tr").filter(has_text=REASON).first  # newest first
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text(re.compile("^" + DATE_TIME["en"] + "$"))
    expect(cells.nth(1)).to_have_text(DEMO_AGENT)
    expect(cells.nth(2)).to_have_text(conversation)
    expect(cells.nth(3)).to_have_text("Promise of returns")
    expect(cells.nth(4)).to_have_text(REASON)
    expect(cells.nth(5)).to_have_text(RISKY)
    overrides_kpi = supervisor.locator('[data-kpi="agent_overrides"]')
    expect(overrides_kpi.locator(".q-kpi-label")).to_have_text("Sent despite the guard")
    expect(overrides_kpi.locator(".q-kpi-sub")).to_contain_text("Promise of returns")
    expect(supervisor.locator('[data-kpi="promises_of_returns"] .q-kpi-sub')).to_contain_text("by agents")
    assert foreign_texts(supervisor, "en") == []
    overrides.scroll_into_view_if_needed()
    chromium.shot(supervisor, "overrides")

    # in Chinese, the same list names the rule in Chinese
    supervisor.locator("#language-select").select_option("zh")
    expect(cells.nth(3)).to_have_text(text("overrides.rule.promise_of_returns", "zh"))
    expect(overrides.get_by_role("heading", name=text("overrides.title", "zh"))).to_be_visible()
