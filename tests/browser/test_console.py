"""The agent console (bot/console/static/) with a customer on the other side: two browser
contexts of Debian's Chromium, one a customer in the chat widget on the demo page, one an agent
(or supervisor) logged in to /console/, against the real contact service and assistant with the
clock frozen inside agent hours. Each test leaves screenshots in test-artifacts/screenshots/;
the README's pictures of the console (docs/images/console-*.png) are taken here too."""

from __future__ import annotations

import os
import re

import pytest

from bot import knowledge
from bot.http.security_headers import PAGE_CSP as CSP
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from bot.references import pattern
from tests.support.browser import CHROMIUM, ROOT

pytestmark = [pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
), pytest.mark.usefixtures("empty_queue_afterwards")]

from playwright.sync_api import expect  # noqa: E402

from tests.support.console_page import (  # noqa: E402
    DATE_TIME, StaffSession, console, console_messages, conversation_id, foreign_texts, log_in, logged_in, queue_row, text,
)
from tests.support.widget import ANSWER, log, open_widget, say, send  # noqa: E402

README_IMAGES = ROOT / "docs" / "images"


# ---------------------------------------------------------------- customer helpers
def wait_for_an_agent(page, text="我要转人工"):
    """Ask for a person; wait until the widget shows the customer's place in the queue."""
    say(page, text)
    expect(page.get_by_role("status").filter(has_text="排队")).to_be_visible(timeout=ANSWER)
    return conversation_id(page)


def customer(chromium, query=""):
    page = chromium.page()
    page.goto(chromium.base_url + "/" + query)
    open_widget(page)
    return page


def readme_shot(page, name):
    """A picture for the README, at the page's 1280x800: into docs/images/ when
    ``UPDATE_README_IMAGES=1`` (so ordinary runs leave the checkout clean), else among the test
    artifacts."""
    folder = README_IMAGES if os.environ.get("UPDATE_README_IMAGES") == "1" else ROOT / "test-artifacts" / "readme-images"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), animations="disabled")



# ---------------------------------------------------------------- tests
def test_an_agent_takes_over_a_conversation_in_the_console_and_hands_it_back(chromium):
    agent = console(chromium)
    response = agent.request.get(chromium.base_url + "/console/")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    script = agent.request.get(chromium.base_url + "/console/static/console.js")
    assert script.ok and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == CSP
    assert "innerHTML" not in script.text().split("*/", 1)[1], "the console never puts markup into the page"
    shared = agent.request.get(chromium.base_url + "/console/static/shared.js")  # the front ends' helpers
    assert shared.ok and shared.headers["content-type"].startswith("text/javascript")
    assert shared.headers["content-security-policy"] == CSP
    assert shared.body() == agent.request.get(chromium.base_url + "/static/shared.js").body()  # one file
    assert "innerHTML" not in shared.text().split("*/", 1)[1]
    for wrong in ("/console/static/nothing.js", "/console/static/%2e%2e%2fpages.py", "/console/static/.hidden.js"):
        assert agent.request.get(chromium.base_url + wrong).status == 404, wrong
    assert agent.request.get(chromium.base_url + "/console").url.endswith("/console/")
    expect(agent.get_by_label(text("login.id", "zh"), exact=True)).to_be_focused()  # the login page follows the browser: zh-CN
    readme_shot(agent, "console-login.png")
    chromium.shot(agent, "login")
    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")
    expect(agent.locator("#live-title")).to_have_text("Mine")

    # a verified customer asks for a person: the agent is told at once
    talk = customer(chromium, "?as=demo-premier")
    conversation = wait_for_an_agent(talk)
    row = queue_row(agent, conversation)
    expect(row).to_be_visible()
    expect(row).to_contain_text("Asked for an agent")
    expect(row).to_contain_text("Premier")
    expect(row).to_contain_text("Chinese")  # the English console names languages in English
    expect(row).to_contain_text("我要转人工")  # the summary: what the customer asked last
    expect(row).to_contain_text("#1")
    expect(row.locator(".c-badge--urgent")).to_have_count(0)
    banner = agent.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("New: Asked for an agent")
    assert any("waiting for an agent" in n["title"] for n in agent.evaluate("window.__notifications"))
    assert agent.evaluate("window.__beeps") > 0, "the console beeped"

    # the agent claims it; the customer is told who joined, and is no longer queued
    row.get_by_role("button", name="Claim").click()
    expect(log(talk)).to_contain_text("客服 Demo Agent 已接入", timeout=ANSWER)
    expect(talk.locator(".egw-queue")).to_be_hidden()
    heading = agent.locator("#conv-title")
    expect(heading).to_contain_text("李女士 Li")
    profile = agent.locator("#profile")
    for shown in ("Verified customer", "李女士 Li", "Premier", "C3", "2027-06-30"):
        expect(profile).to_contain_text(shown)
    expect(agent.locator("#handoff-info")).to_contain_text("Asked for an agent")
    expect(agent.locator("#handoff-summary")).to_have_text("我要转人工")
    expect(console_messages(agent, "customer").first).to_contain_text("我要转人工")
    expect(console_messages(agent, "bot").filter(has_text="转接人工客服")).not_to_have_count(0)  # the assistant's part
    expect(console_messages(agent, "system").filter(has_text="客服 Demo Agent 已接入")).to_have_count(1)
    expect(agent.locator(f'#live-list [data-conversation-id="{conversation}"]')).to_have_attribute("aria-current", "true")
    reply = agent.get_by_label("Reply to the customer")
    expect(reply).to_be_focused()

    # a canned greeting in the customer's language; the customer sees the agent typing, then the reply
    agent.get_by_role("button", name=re.compile("^Greeting")).click()
    expect(reply).to_have_value(re.compile("^您好，我是长青财富客服Demo Agent"))
    expect(talk.locator(".egw-typing")).to_be_visible()
    reply.press("Enter")
    expect(reply).to_have_value("")
    greeting = log(talk).locator(".egw-msg--agent").last
    expect(greeting.locator(".egw-bubble")).to_contain_text("您好，我是长青财富客服Demo Agent")
    expect(greeting).to_contain_text("人工客服")
    expect(talk.locator(".egw-typing")).to_be_hidden()
    expect(console_messages(agent, "agent").last).to_contain_text("您好，我是长青财富客服Demo Agent")

    # the customer writes: it reaches the agent live, and the assistant keeps quiet
    from_assistant = log(talk).locator(".egw-msg--bot").count()
    question = "我的赎回三天了还没到账，\n能帮我查一下吗？"
    send(talk, question)
    expect(console_messages(agent, "customer").last.locator(".c-msg-text")).to_have_text(question)
    talk.wait_for_timeout(1500)
    expect(log(talk).locator(".egw-msg--bot")).to_have_count(from_assistant)

    # Shift+Enter is a new line, Enter sends
    reply.click()
    reply.press_sequentially("好的，我来帮您查一下")
    reply.press("Shift+Enter")
    reply.press_sequentially("请稍等。")
    expect(reply).to_have_value("好的，我来帮您查一下\n请稍等。")
    reply.press("Enter")
    expect(log(talk).locator(".egw-msg--agent .egw-bubble").last).to_have_text("好的，我来帮您查一下\n请稍等。")

    # an internal note stays in the console
    agent.get_by_label("New internal note").fill("客户赎回 T+2 未到账，已联系清算部核实")
    agent.get_by_role("button", name="Add note").click()
    expect(agent.locator("#notes")).to_contain_text("客户赎回 T+2 未到账，已联系清算部核实")
    expect(agent.locator("#notes")).to_contain_text("You")
    agent.locator("#flash").evaluate("flash => { flash.hidden = true; }")  # a clean picture
    readme_shot(agent, "console-conversation.png")
    chromium.shot(agent, "conversation")

    # markup is text on both sides
    trap = '<img src=x onerror="window.__xss=1">'
    reply.fill(trap)
    reply.press("Enter")
    expect(log(talk).locator(".egw-msg--agent .egw-bubble").last).to_have_text(trap)
    expect(console_messages(agent, "agent").last.locator(".c-msg-text")).to_have_text(trap)
    send(talk, "<b>bold</b>")
    expect(console_messages(agent, "customer").last.locator(".c-msg-text")).to_have_text("<b>bold</b>")
    talk.wait_for_timeout(500)
    for page in (talk, agent):
        assert page.evaluate("typeof window.__xss") == "undefined"
    assert log(talk).locator("img").count() == 0
    assert agent.locator("#messages img, #messages b").count() == 0
    expect(log(talk)).not_to_contain_text("清算部")  # the note never reached the customer
    chromium.shot(talk, "customer")

    # resolve (confirmed): back to the queue; the customer is told, and the assistant answers again
    agent.get_by_role("button", name="Resolve…").click()
    dialog = agent.get_by_role("dialog", name="Resolve this conversation?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Resolve conversation").click()
    expect(dialog).to_be_hidden()
    expect(agent.get_by_role("heading", name="Waiting for an agent")).to_be_visible()
    expect(agent.locator(f'#live-list [data-conversation-id="{conversation}"]')).to_have_count(0)
    expect(queue_row(agent, conversation)).to_have_count(0)
    expect(log(talk)).to_contain_text("人工客服已结束本次服务", timeout=ANSWER)
    # the assistant asks for a rating of the agent's service: tap 5, leave a comment
    survey = log(talk).locator(".egw-msg--bot", has_text="请为刚才人工客服的服务打分")
    expect(survey).to_be_visible(timeout=ANSWER)
    expect(survey.get_by_role("button")).to_have_text(["1", "2", "3", "4", "5"])
    survey.get_by_role("button", name="5").click()
    expect(log(talk)).to_contain_text("感谢您的评分（5 分）", timeout=ANSWER)
    expect(log(talk)).to_contain_text("还有什么想告诉我们的吗", timeout=ANSWER)
    expect(say(talk, "客服回复很快，谢谢")).to_contain_text("感谢您的宝贵意见")
    chromium.shot(talk, "customer-survey")
    answer = say(talk, "货币宝起购金额是多少")
    expect(answer).to_contain_text("100 元")
    expect(answer).to_have_class(re.compile("egw-msg--bot"))
    chromium.shot(talk, "customer-after")


def test_an_urgent_fraud_report_goes_ahead_of_a_waiting_request_in_the_console(chromium):
    agent = console(chromium)
    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")

    first = customer(chromium)
    first_id = wait_for_an_agent(first)
    expect(queue_row(agent, first_id)).to_be_visible()

    victim = customer(chromium)
    say(victim, "有人盗刷了我的账户，钱被转走了")
    expect(log(victim)).to_contain_text("我们已将此事标记为紧急", timeout=ANSWER)
    victim_id = conversation_id(victim)
    urgent = queue_row(agent, victim_id)
    expect(urgent).to_be_visible(timeout=ANSWER)
    expect(urgent.locator(".c-badge--urgent")).to_have_text(re.compile("urgent", re.I))
    expect(urgent).to_contain_text("Fraud report")
    expect(urgent).to_contain_text(re.compile("Complaint " + pattern("C")))
    expect(urgent).to_contain_text("#1")
    expect(urgent).to_have_attribute("data-urgent", "true")
    order = agent.eval_on_selector_all("#queue-body tr[data-conversation-id]", "rows => rows.map(r => r.dataset.conversationId)")
    assert order.index(victim_id) < order.index(first_id), order
    assert order[0] == victim_id, order
    expect(queue_row(agent, first_id)).to_contain_text("#2")
    expect(first.locator(".egw-queue")).to_contain_text("您排第 2 位")  # the waiting customer moved back

    banner = agent.locator("#banner")
    expect(banner).to_contain_text("Urgent: Fraud report")
    expect(banner).to_have_class(re.compile("c-banner--urgent"))
    assert any(n["title"].startswith("Urgent") for n in agent.evaluate("window.__notifications"))
    expect(agent.locator("#queue-count")).to_have_class(re.compile("c-count--urgent"))
    readme_shot(agent, "console-queue.png")
    chromium.shot(agent)


def test_a_wrong_password_is_refused_and_only_supervisors_see_every_live_conversation(chromium):
    agent = console(chromium)
    log_in(agent, DEMO_AGENT, "not-the-right-password")
    error = agent.get_by_role("alert").filter(has_text=text("error.login_failed", "zh"))
    expect(error).to_be_visible()
    expect(agent.get_by_role("heading", name=text("brand.console", "zh"))).to_be_visible()
    expect(agent.get_by_label(text("login.password", "zh"), exact=True)).to_have_value("")
    expect(agent.get_by_label(text("login.password", "zh"), exact=True)).to_be_focused()
    expect(agent.locator("#app-view")).to_be_hidden()
    chromium.shot(agent, "wrong-password")

    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")
    expect(error).to_be_hidden()
    supervisor = console(chromium)
    log_in(supervisor, DEMO_SUPERVISOR)
    logged_in(supervisor, "Demo Supervisor")
    expect(supervisor.locator("#user-role")).to_have_text("Supervisor")
    expect(agent.locator("#user-role")).to_have_text("Agent")

    talk = customer(chromium)
    conversation = wait_for_an_agent(talk)
    queue_row(agent, conversation).get_by_role("button", name="Claim").click()
    expect(agent.locator("#conv-title")).to_contain_text("Visitor")
    expect(agent.locator("#profile")).to_contain_text("Anonymous visitor")

    # the agent: "Mine" only; the supervisor: "With agents", every live conversation and its agent
    mine = agent.get_by_role("list", name="Mine")
    expect(mine.locator(f'[data-conversation-id="{conversation}"]')).to_be_visible()
    expect(agent.get_by_role("heading", name="With agents")).to_have_count(0)
    with_agents = supervisor.get_by_role("list", name="With agents")
    item = with_agents.locator(f'[data-conversation-id="{conversation}"]')
    expect(item).to_contain_text("with demo-agent")
    expect(supervisor.get_by_role("heading", name="Mine")).to_have_count(0)
    seen_by_agent = agent.evaluate("fetch('/console/api/queue').then(r => r.json())")
    assert "with_agents" not in seen_by_agent and [h["conversation_id"] for h in seen_by_agent["mine"]] == [conversation]

    # the supervisor can read along but not answer in the agent's place
    item.click()
    expect(supervisor.locator("#conv-title")).to_contain_text("Visitor")
    expect(supervisor.locator("#readonly-note")).to_have_text("Read only: this conversation is with demo-agent.")
    expect(supervisor.get_by_label("Reply to the customer")).to_be_hidden()
    expect(supervisor.get_by_role("button", name="Resolve…")).to_be_hidden()
    send(talk, "你好，还在吗？")
    expect(console_messages(supervisor, "customer").last).to_contain_text("你好，还在吗？")
    expect(console_messages(agent, "customer").last).to_contain_text("你好，还在吗？")
    chromium.shot(supervisor, "supervisor")

    # the agent hands the conversation to the supervisor, who can answer now
    agent.get_by_role("button", name="Transfer…").click()
    dialog = agent.get_by_role("dialog", name="Transfer conversation")
    expect(dialog).to_be_visible()
    dialog.get_by_role("radio", name="A colleague").check()
    dialog.get_by_label("Colleague's staff ID").fill(DEMO_SUPERVISOR)
    chromium.shot(agent, "transfer")
    dialog.get_by_role("button", name="Transfer", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(agent.get_by_role("heading", name="Waiting for an agent")).to_be_visible()
    expect(mine.locator(f'[data-conversation-id="{conversation}"]')).to_have_count(0)
    expect(supervisor.locator("#banner")).to_contain_text("transferred to you")
    expect(item).to_contain_text("with you")
    expect(supervisor.locator("#readonly-note")).to_be_hidden()  # the open conversation followed the change
    supervisor_reply = supervisor.get_by_label("Reply to the customer")
    supervisor_reply.fill("您好，我是主管，我来继续为您处理。")
    supervisor_reply.press("Enter")
    expect(log(talk).locator(".egw-msg--agent .egw-bubble").last).to_have_text("您好，我是主管，我来继续为您处理。")

    # logging out ends the session
    agent.get_by_role("button", name="Log out").click()
    expect(agent.get_by_role("status").filter(has_text="You have logged out.")).to_be_visible()
    expect(agent.get_by_label("Staff ID", exact=True)).to_be_visible()
    assert agent.evaluate("fetch('/console/api/me').then(r => r.status)") == 401


def test_the_agent_sees_the_customer_typing_in_the_console(chromium):
    agent = console(chromium)
    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")
    talk = customer(chromium)
    conversation = wait_for_an_agent(talk)
    queue_row(agent, conversation).get_by_role("button", name="Claim").click()
    expect(log(talk)).to_contain_text("客服 Demo Agent 已接入", timeout=ANSWER)
    typing = agent.locator("#customer-typing")
    expect(typing).to_be_hidden()

    # the customer types without sending: the agent sees it; sending takes it away, the message shows
    box = talk.get_by_role("textbox", name="输入您的消息")
    box.press_sequentially("请问我的赎回")
    expect(typing).to_be_visible(timeout=ANSWER)
    expect(typing).to_have_text("Customer is typing…")
    chromium.shot(agent, "customer-typing")
    box.press("Enter")
    expect(console_messages(agent, "customer").last.locator(".c-msg-text")).to_have_text("请问我的赎回")
    expect(typing).to_be_hidden()

    # typing that stops (no keystroke for a few seconds) takes it away too
    box.press_sequentially("还有")
    expect(typing).to_be_visible(timeout=ANSWER)
    expect(typing).to_be_hidden(timeout=8000)


# ---------------------------------------------------------------- languages
def serve_in_the_console(page, language, talk, conversation, customer_language, staff_name):
    """The agent flow in the console in ``language``: the new conversation in the queue, claim,
    a canned reply in the customer's language, a reply, a note, resolve; every label the
    catalogue's, every date YYYY-MM-DD HH:mm with the weekday."""
    def t(key, **params):
        return text(key, language, **params)

    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if language == "zh" else "en-US")
    expect(page.locator("#language-select")).to_have_value(language)
    expect(page.locator("#queue-meta")).to_have_text(t("queue.order"))
    row = queue_row(page, conversation)
    expect(row).to_contain_text(t("reason.customer_request"))
    expect(row).to_contain_text(text("language." + customer_language, language))
    expect(page.locator("#banner")).to_contain_text(t("banner.new_one", reason=t("reason.customer_request"),
                                                      tier=t("tier.standard"), language=t("language." + customer_language)))
    row.get_by_role("button", name=t("action.claim")).click()
    expect(page.locator("#flash")).to_have_text(t("flash.claimed"))
    expect(page.locator("#handoff-reason")).to_have_text(re.compile(
        "^" + re.escape(t("reason.customer_request")) + " · " + t("convo.requested", time=DATE_TIME[language]) + "$"))
    expect(page.locator("#conv-badges")).to_contain_text(t("badge.with_you"))
    expect(page.locator("#profile")).to_contain_text(t("profile.anonymous"))
    expect(page.locator("#customer-typing")).to_have_text(t("convo.customer_typing"))
    expect(page.locator("#reply-hint")).to_have_text(t("reply.hint_chat"))
    expect(console_messages(page, "customer").first.locator(".c-msg-who")).to_have_text(t("sender.customer"))
    expect(console_messages(page, "customer").first.locator(".c-msg-time")).to_have_text(re.compile("^" + DATE_TIME[language] + "$"))

    # the canned replies are named in the agent's language and written in the customer's
    reply = page.get_by_label(t("reply.label"))
    expect(reply).to_have_attribute("placeholder", t("reply.placeholder"))
    greeting = knowledge.load("canned_replies")["greeting"]
    page.get_by_role("button", name=re.compile("^" + re.escape(greeting["label"][language]))).click()
    expect(reply).to_have_value(greeting[customer_language].format(name=staff_name))
    reply.press("Enter")
    expect(log(talk).locator(".egw-msg--agent .egw-bubble").last).to_have_text(greeting[customer_language].format(name=staff_name))
    expect(console_messages(page, "agent").last.locator(".c-msg-who")).to_have_text(t("sender.agent"))

    page.get_by_label(t("notes.label")).fill("客户资料已核对 / profile checked")
    page.get_by_role("button", name=t("notes.add")).click()
    expect(page.locator("#flash")).to_have_text(t("notes.added"))
    expect(page.locator("#notes .c-note-meta")).to_have_text(re.compile("^" + t("notes.you") + " · " + DATE_TIME[language] + "$"))
    assert foreign_texts(page, language) == []

    page.get_by_role("button", name=t("convo.resolve"), exact=True).click()
    dialog = page.get_by_role("dialog", name=t("resolve.title"))
    expect(dialog).to_contain_text(t("resolve.text"))
    dialog.get_by_role("button", name=t("resolve.confirm"), exact=True).click()
    expect(page.locator("#flash")).to_have_text(t("flash.resolved"))
    expect(page.get_by_role("heading", name=t("queue.title"))).to_be_visible()
    expect(queue_row(page, conversation)).to_have_count(0)
    assert foreign_texts(page, language) == []


def test_each_staff_member_works_in_their_own_language(chromium):
    """A Chinese-speaking agent and an English-speaking supervisor side by side, each serving a
    customer who writes in the other language."""
    agent, supervisor = console(chromium), console(chromium)
    expect(agent.locator("#login-submit")).to_have_text(text("login.submit", "zh"))  # before login: Chinese
    log_in(agent, DEMO_AGENT, language="zh")
    logged_in(agent, "Demo Agent", "zh")
    expect(agent.locator("#user-role")).to_have_text(text("role.agent", "zh"))
    log_in(supervisor, DEMO_SUPERVISOR, language="en")
    logged_in(supervisor, "Demo Supervisor", "en")
    expect(supervisor.locator("#user-role")).to_have_text("Supervisor")
    assert agent.title() == text("page.queue", "zh") and supervisor.title() == text("page.queue", "en")

    english = chromium.page()
    english.goto(chromium.base_url + "/?lang=en")
    open_widget(english, "en")
    say(english, "I'd like to talk to a person")
    expect(english.get_by_role("status").filter(has_text="Waiting for an agent")).to_be_visible(timeout=ANSWER)
    serve_in_the_console(agent, "zh", english, conversation_id(english), "en", "Demo Agent")
    chromium.shot(agent, "zh")

    chinese = customer(chromium)
    serve_in_the_console(supervisor, "en", chinese, wait_for_an_agent(chinese), "zh", "Demo Supervisor")
    chromium.shot(supervisor, "en")


def test_the_language_chosen_in_the_top_bar_is_shown_at_once_and_kept(chromium):
    agent = console(chromium)
    log_in(agent, DEMO_AGENT, language="zh")
    logged_in(agent, "Demo Agent", "zh")
    talk = customer(chromium)
    conversation = wait_for_an_agent(talk)
    queue_row(agent, conversation).get_by_role("button", name=text("action.claim", "zh")).click()
    expect(agent.locator("#conv-title")).to_contain_text(text("convo.visitor", "zh"))
    send(talk, "你好")
    expect(console_messages(agent, "customer")).to_have_count(2)

    # English at once, without a reload: the bar, the side list, the open conversation, its messages
    agent.get_by_label(text("topbar.language", "zh")).select_option("en")
    expect(agent.locator("#logout-btn")).to_have_text("Log out")
    expect(agent.locator("#live-title")).to_have_text("Mine")
    expect(agent.locator("#conv-title")).to_contain_text("Visitor")
    expect(agent.locator("#readonly-note")).to_be_hidden()
    expect(console_messages(agent, "customer")).to_have_count(2)  # none lost in the redraw
    expect(console_messages(agent, "customer").last.locator(".c-msg-who")).to_have_text("Customer")
    expect(agent.get_by_label("Reply to the customer")).to_have_attribute("placeholder", "Write a reply to the customer…")
    expect(agent.get_by_role("button", name=re.compile("^Greeting"))).to_be_visible()  # the customer's set: Chinese
    assert foreign_texts(agent, "en") == []
    status, me = StaffSession(chromium.base_url, DEMO_AGENT).call("GET", "/console/api/me")
    assert me["staff"]["language"] == "en"  # kept on the account

    agent.reload()
    logged_in(agent, "Demo Agent", "en")
    expect(agent.locator("#language-select")).to_have_value("en")
    expect(agent.locator("html")).to_have_attribute("lang", "en-US")

    agent.get_by_label("Language of the console").select_option("zh")
    expect(agent.locator("#logout-btn")).to_have_text(text("topbar.logout", "zh"))
    agent.reload()
    logged_in(agent, "Demo Agent", "zh")
    assert foreign_texts(agent, "zh") == []
