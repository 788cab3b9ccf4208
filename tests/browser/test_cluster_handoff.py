"""The handoff flow through the cluster's load balancer (bot/cluster.py): a customer in the widget
and an agent in the console, both on nginx, which spreads their requests and WebSockets over two
contact services, so what one says reaches the other across processes (Redis)."""

from __future__ import annotations

import pytest

from bot.core.staff import DEMO_AGENT
from tests.support.browser import CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium")

from playwright.sync_api import expect  # noqa: E402

from tests.support.console_page import console, console_messages, conversation_id, log_in, logged_in, queue_row  # noqa: E402
from tests.support.widget import ANSWER, log, open_widget, say, send  # noqa: E402


@pytest.fixture(scope="module")
def contact_url(cluster):
    """The browsers reach the load balancer."""
    return cluster.url


def test_an_agent_serves_a_customer_through_the_load_balancer(chromium):
    agent = console(chromium)
    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")

    talk = chromium.page()
    talk.goto(chromium.base_url + "/")
    open_widget(talk)
    expect(say(talk, "长青货币宝起购金额是多少")).to_contain_text("100 元")  # the assistant answers through nginx
    say(talk, "我要转人工")
    expect(talk.get_by_role("status").filter(has_text="排队")).to_be_visible(timeout=ANSWER)
    row = queue_row(agent, conversation_id(talk))
    expect(row).to_be_visible(timeout=ANSWER)
    row.get_by_role("button", name="Claim").click()
    expect(log(talk)).to_contain_text("客服 Demo Agent 已接入", timeout=ANSWER)

    reply = agent.get_by_label("Reply to the customer")
    reply.fill("您好，我来帮您查一下。")
    reply.press("Enter")
    expect(log(talk).locator(".egw-msg--agent .egw-bubble").last).to_have_text("您好，我来帮您查一下。", timeout=ANSWER)
    send(talk, "我的赎回三天了还没到账")
    expect(console_messages(agent, "customer").last.locator(".c-msg-text")).to_have_text("我的赎回三天了还没到账", timeout=ANSWER)

    agent.get_by_role("button", name="Resolve…").click()
    agent.get_by_role("dialog", name="Resolve this conversation?").get_by_role("button", name="Resolve conversation").click()
    expect(log(talk)).to_contain_text("人工客服已结束本次服务", timeout=ANSWER)
