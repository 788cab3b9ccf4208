"""The website chat widget as a customer sees it: the demo page, the real contact service and
assistant behind it, Debian's Chromium in front. Each test leaves a screenshot in
test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re

import pytest

from bot.references import pattern
from tests.support.browser import CHROMIUM, PHONE

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.widget import (  # noqa: E402
    ANSWER, answers, customer_bubbles, launcher, log, message_box, open_widget, panel, say,
)

DISCLOSURE_ZH = "理财非存款，产品有风险，投资须谨慎。"
DISCLOSURE_EN = "Wealth management products are not deposits."


# ---------------------------------------------------------------- helpers
def requests_to(page, path):
    seen = []
    page.on("request", lambda r: seen.append(r) if r.url.split("?")[0].endswith(path) else None)
    return seen


def fails_first(times):
    """A route handler: the first ``times`` requests cannot connect, the later ones go through."""
    left = {"n": times}

    def handle(route):
        if left["n"] > 0:
            left["n"] -= 1
            route.abort("connectionrefused")
        else:
            route.continue_()
    return handle


# ---------------------------------------------------------------- tests
def test_chinese_question_is_answered_with_the_risk_disclosure_shown_apart(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/")
    expect(page.get_by_text(DISCLOSURE_ZH).first).to_be_visible()  # the demo page's own notice
    expect(launcher(page)).to_have_text(re.compile("在线咨询"))
    open_widget(page)
    expect(panel(page).get_by_role("heading")).to_have_text("长青财富 在线客服")

    answer = say(page, "长青货币宝起购金额是多少")
    expect(customer_bubbles(page).last).to_have_text("长青货币宝起购金额是多少")
    expect(answer.locator(".egw-bubble")).to_contain_text("100 元")
    disclosure = answer.get_by_role("note")
    expect(disclosure).to_be_visible()
    expect(disclosure).to_contain_text("风险提示")
    expect(disclosure).to_contain_text(DISCLOSURE_ZH)
    # shown apart: the notice is not part of the answer's own bubble
    assert DISCLOSURE_ZH not in answer.locator(".egw-bubble").inner_text()
    style = disclosure.evaluate("e => getComputedStyle(e).fontSize")
    assert float(style.rstrip("px")) < 15, "the disclosure is a small notice"
    chromium.shot(page)


def test_english_page_and_question_get_english_ui_and_answer(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/?lang=en")
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible()  # read out in English too
    expect(launcher(page, "en")).to_have_text(re.compile("Chat with us"))
    open_widget(page, "en")
    expect(panel(page).get_by_role("heading")).to_have_text("Evergreen Wealth")
    expect(message_box(page)).to_have_attribute("placeholder", re.compile("Type your question"))

    answer = say(page, "What is the latest NAV of Evergreen USD Income?")
    expect(answer.locator(".egw-bubble")).to_contain_text("1.0215")
    expect(answer.get_by_role("note")).to_contain_text("Risk disclosure")
    expect(answer.get_by_role("note")).to_contain_text(DISCLOSURE_EN)
    chromium.shot(page)


def test_language_switch_changes_the_ui_and_tells_the_service(chromium):
    page = chromium.page()
    sessions = requests_to(page, "/api/v1/sessions")
    page.goto(chromium.base_url + "/")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/sessions")):
        open_widget(page)
    expect(page.get_by_role("button", name="中文")).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="EN", exact=True).click()
    expect(page.get_by_role("button", name="EN", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(panel(page).get_by_role("heading")).to_have_text("Evergreen Wealth")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.locator(".egw-welcome")).to_contain_text("Evergreen Wealth assistant")

    say(page, "Hello")
    bodies = [json.loads(r.post_data or "{}") for r in sessions]
    assert bodies, "no session call"
    assert bodies[-1].get("language") == "en", bodies
    assert bodies[0].get("language") == "zh", bodies  # the page's language at first
    # the choice outlives a reload
    page.reload()
    expect(panel(page).get_by_role("heading")).to_have_text("Evergreen Wealth")
    chromium.shot(page)


def test_history_is_shown_again_after_a_reload(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/")
    open_widget(page)
    answer = say(page, "长青货币宝起购金额是多少")
    expect(answer).to_contain_text("100 元")
    answer_text = answer.locator(".egw-bubble").inner_text()
    stored = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('evergreen-chat:'))")
    assert any(k.endswith(":session") for k in stored) and any(k.endswith(":visitor_token") for k in stored), stored

    page.reload()  # the panel was open: it opens again with the conversation
    expect(panel(page)).to_be_visible()
    expect(customer_bubbles(page).filter(has_text="长青货币宝起购金额是多少")).to_have_count(1)
    expect(answers(page).filter(has_text=answer_text[:20])).to_have_count(1)
    expect(answers(page).last.get_by_role("note")).to_contain_text(DISCLOSURE_ZH)

    page.get_by_role("button", name="关闭对话窗口").click()
    expect(panel(page)).to_be_hidden()
    page.reload()  # closed this time: history comes back when the customer opens the chat
    expect(panel(page)).to_be_hidden()
    open_widget(page)
    expect(customer_bubbles(page).filter(has_text="长青货币宝起购金额是多少")).to_have_count(1)
    expect(answers(page).filter(has_text=answer_text[:20])).to_have_count(1)
    chromium.shot(page)


def test_quick_replies_appear_and_a_click_gets_a_reply(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/")
    open_widget(page)
    say(page, "今天天气怎么样")
    offer = say(page, "给我讲个笑话")
    buttons = offer.get_by_role("group").get_by_role("button")
    expect(buttons).to_have_text(["联系人工客服", "不用了"], timeout=ANSWER)
    chromium.shot(page, "offer")

    before = answers(page).count()
    offer.get_by_role("button", name="联系人工客服").click()
    # the click is shown as the customer's words, not as the payload
    expect(customer_bubbles(page).last).to_have_text("联系人工客服")
    expect(message_box(page)).to_be_focused()
    expect(answers(page)).not_to_have_count(before, timeout=ANSWER)
    expect(log(page)).to_contain_text("正在为您转接人工客服", timeout=ANSWER)
    expect(page.get_by_role("status").filter(has_text="排队")).to_contain_text("您排第 1 位", timeout=ANSWER)
    expect(log(page)).not_to_contain_text("/request_human")
    # an answered offer is not offered again (the last message now offers the waiting choices)
    expect(log(page).get_by_role("button", name="联系人工客服")).to_be_hidden()
    assert page.evaluate("location.pathname") == "/"  # nothing was followed or executed
    chromium.shot(page)


def test_html_in_a_message_is_shown_as_text(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/")
    open_widget(page)
    payload = "<script>window.__pwned=1</script><b>bold</b>"
    say(page, payload)
    expect(customer_bubbles(page).last).to_have_text(payload)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert log(page).locator("b").count() == 0
    assert log(page).locator("script").count() == 0

    page.reload()  # the stored copy, from the history, is text as well
    expect(customer_bubbles(page).last).to_have_text(payload)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert log(page).locator("b").count() == 0
    chromium.shot(page)


def test_phone_sized_screen_gets_a_full_screen_usable_panel(chromium):
    page = chromium.page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto(chromium.base_url + "/")
    expect(launcher(page)).to_be_visible()
    chromium.shot(page, "page")
    launcher(page).tap()
    expect(panel(page)).to_be_visible()
    box = panel(page).bounding_box()
    assert box == {"x": 0, "y": 0, "width": PHONE["width"], "height": PHONE["height"]}, box
    expect(launcher(page)).to_be_hidden()  # nothing floats over the conversation

    answer = say(page, "长青货币宝起购金额是多少")
    expect(answer).to_contain_text("100 元")
    for part in (message_box(page), page.get_by_role("button", name="发送"), page.get_by_role("button", name="关闭对话窗口")):
        b = part.bounding_box()
        assert b and b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= PHONE["width"] and b["y"] + b["height"] <= PHONE["height"], b
    b = answer.bounding_box()
    assert b["x"] + b["width"] <= PHONE["width"], "messages fit the screen width"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    chromium.shot(page)

    page.get_by_role("button", name="关闭对话窗口").tap()
    expect(panel(page)).to_be_hidden()
    expect(launcher(page)).to_be_visible()


def test_keyboard_only_customer_can_open_chat_send_and_close(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/")
    page.locator("body").click(position={"x": 5, "y": 300})  # start at the top of the page
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.classList.contains('egw-launcher')"):
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "the focused launcher shows a focus ring"
    chromium.shot(page, "launcher-focus")

    page.keyboard.press("Enter")
    expect(panel(page)).to_be_visible()
    expect(message_box(page)).to_be_focused()
    expect(page.locator(".egw-launcher")).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".egw-launcher")).to_have_accessible_name("关闭在线客服对话")
    page.keyboard.type("长青货币宝起购金额是多少")
    page.keyboard.press("Enter")
    expect(customer_bubbles(page).last).to_have_text("长青货币宝起购金额是多少")
    expect(answers(page).last).to_contain_text("100 元", timeout=ANSWER)
    expect(message_box(page)).to_be_focused()
    chromium.shot(page)

    page.keyboard.press("Escape")
    expect(panel(page)).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('egw-launcher')"), "focus returns to the launcher"


def test_verified_demo_customer_gets_a_verified_session(chromium):
    page = chromium.page()
    sessions = []
    page.on("response", lambda r: sessions.append(r) if r.url.endswith("/api/v1/sessions") else None)
    page.goto(chromium.base_url + "/?as=demo-standard")
    expect(page.locator("#demo-who")).to_contain_text("demo-standard")
    open_widget(page)
    answer = say(page, "你好")
    expect(answer).to_be_visible()
    assert sessions, "no session call"
    bodies = [json.loads(r.request.post_data or "{}") for r in sessions]
    assert all("identity_token" in b for b in bodies), bodies
    assert sessions[-1].json()["customer"]["verified"] is True
    assert page.evaluate("document.querySelectorAll('.egw-root').length") == 1  # one widget despite two tags
    chromium.shot(page)


def test_errors_are_explained_politely_and_a_resend_is_idempotent(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/")
    open_widget(page)
    say(page, "你好")
    notice = page.get_by_role("alert")

    # too long: stopped in the browser, text kept for editing
    message_box(page).fill("长" * 2001)
    message_box(page).press("Enter")
    expect(notice).to_contain_text("消息太长了")
    expect(message_box(page)).not_to_have_value("")
    message_box(page).fill("")

    # the network is down: the message is kept, marked unsent, and can be sent again
    posted = []
    page.route("**/api/v1/messages", lambda route: route.abort("internetdisconnected") if route.request.method == "POST" else route.continue_())
    page.on("request", lambda r: posted.append(json.loads(r.post_data)) if r.method == "POST" and r.url.endswith("/api/v1/messages") else None)
    message_box(page).fill("长青稳盈债券A的风险等级是多少")
    message_box(page).press("Enter")
    expect(notice).to_contain_text("暂时无法连接客服系统")
    failed = log(page).locator(".egw-msg--failed")
    expect(failed).to_contain_text("未发送")
    chromium.shot(page, "offline")

    page.unroute("**/api/v1/messages")
    before = answers(page).count()
    failed.get_by_role("button", name="重新发送").click()
    expect(log(page).locator(".egw-msg--failed")).to_have_count(0)
    expect(answers(page)).not_to_have_count(before, timeout=ANSWER)
    expect(notice).to_be_hidden()
    ids = {body["client_message_id"] for body in posted if body["text"] == "长青稳盈债券A的风险等级是多少"}
    assert len(posted) >= 2 and len(ids) == 1, posted  # the resend carried the same client_message_id
    expect(customer_bubbles(page).filter(has_text="长青稳盈债券A的风险等级是多少")).to_have_count(1)

    # rate limited by the service
    page.route(
        "**/api/v1/messages",
        lambda route: route.fulfill(
            status=429, headers={"Retry-After": "7", "Content-Type": "application/json"},
            body=json.dumps({"error": {"code": "rate_limited", "message": "Too many messages; please wait a moment."}}),
        ) if route.request.method == "POST" else route.continue_(),
    )
    message_box(page).fill("再问一个问题")
    message_box(page).press("Enter")
    expect(notice).to_contain_text("请 7 秒后再试")
    chromium.shot(page)


def test_second_tab_follows_in_real_time_and_catches_up_after_a_dropped_connection(chromium):
    first = chromium.page()
    first.goto(chromium.base_url + "/")
    open_widget(first)
    say(first, "你好")

    second = first.context.new_page()  # same browser profile: same visitor, same conversation
    sockets = {"blocked": False, "open": []}

    def socket_route(ws):
        if sockets["blocked"]:
            ws.close()  # the network is still down: the widget retries with backoff
            return
        ws.connect_to_server()
        sockets["open"].append(ws)

    second.route_web_socket(re.compile(r".*/api/v1/ws.*"), socket_route)
    second.goto(chromium.base_url + "/")
    # record whether the typing indicator ever shows in the second tab
    second.evaluate("""() => {
        window.__sawTyping = false;
        const t = document.querySelector('.egw-typing');
        new MutationObserver(() => { if (!t.hidden) window.__sawTyping = true; })
            .observe(t, {attributes: true, attributeFilter: ['hidden']});
    }""")
    # the closed widget connects for a returning visitor; a new answer shows as unread
    for _ in range(100):
        if sockets["open"]:
            break
        second.wait_for_timeout(100)
    assert sockets["open"], "the second tab opened no WebSocket"
    first.bring_to_front()
    say(first, "长青货币宝起购金额是多少")
    badge = second.locator(".egw-badge")
    expect(badge).to_be_visible(timeout=ANSWER)
    expect(second.locator(".egw-launcher")).to_have_accessible_name(re.compile("新消息"))
    assert second.evaluate("window.__sawTyping") is True, "typing frames show the indicator"
    second.bring_to_front()
    open_widget(second)
    expect(badge).to_be_hidden()
    expect(customer_bubbles(second).filter(has_text="长青货币宝起购金额是多少")).to_have_count(1)
    expect(answers(second).filter(has_text="100 元")).to_have_count(1)

    # the connection drops and stays down while the conversation goes on in the first tab
    sockets["blocked"] = True
    for ws in sockets["open"]:
        ws.close()
    first.bring_to_front()
    say(first, "What is the latest NAV of Evergreen USD Income?")
    sockets["blocked"] = False
    second.bring_to_front()
    expect(customer_bubbles(second).filter(has_text="Evergreen USD Income")).to_have_count(1, timeout=ANSWER)
    expect(answers(second).filter(has_text="1.0215")).to_have_count(1)
    # no message twice, in order
    ids = second.eval_on_selector_all(".egw-log [data-id]", "els => els.map(e => Number(e.dataset.id))")
    assert ids == sorted(set(ids)), ids
    chromium.shot(second)


def test_service_unreachable_at_first_then_the_chat_recovers_by_itself(chromium):
    page = chromium.page()
    page.route("**/api/v1/sessions", fails_first(2))
    page.goto(chromium.base_url + "/")
    open_widget(page)
    notice = page.get_by_role("alert")
    expect(notice).to_contain_text("暂时无法连接客服系统，请检查网络后重试。")
    chromium.shot(page, "down")
    expect(notice).to_be_hidden(timeout=15_000)  # retried with backoff, quietly
    answer = say(page, "长青货币宝起购金额是多少")
    expect(answer).to_contain_text("100 元")


def test_the_widget_adds_the_shared_helpers_itself_and_recovers_when_they_fail_to_load(chromium):
    """The firm's page has one tag; widget.js loads shared.js (the HTTP helper) from next to
    itself. Should that fail, the customer sees the network notice and the widget tries again."""
    page = chromium.page()
    page.route("**/static/shared.js", fails_first(2))  # as the page loads, and when the chat opens
    page.goto(chromium.base_url + "/")
    assert page.locator('script[src$="/static/widget.js"]').count() == 1  # the one tag
    open_widget(page)
    notice = page.get_by_role("alert")
    expect(notice).to_contain_text("暂时无法连接客服系统，请检查网络后重试。")
    expect(notice).to_be_hidden(timeout=15_000)  # loaded on the next try, quietly
    expect(page.locator('script[src$="/static/shared.js"]')).to_have_count(1)  # the failed tag is gone
    answer = say(page, "长青货币宝起购金额是多少")
    expect(answer).to_contain_text("100 元")


def test_an_expired_session_is_renewed_without_troubling_the_customer(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/")
    open_widget(page)
    say(page, "你好")
    # the service no longer accepts the stored session token (e.g. expired): same visitor, though
    page.evaluate("""() => {
        const key = Object.keys(localStorage).find(k => k.endsWith(':session'));
        const s = JSON.parse(localStorage.getItem(key));
        s.token = 'expired.' + s.token;
        localStorage.setItem(key, JSON.stringify(s));
    }""")
    page.reload()
    expect(customer_bubbles(page).filter(has_text="你好")).to_have_count(1)  # history, via a new session
    expect(page.get_by_role("alert")).to_be_hidden()
    answer = say(page, "长青货币宝起购金额是多少")
    expect(answer).to_contain_text("100 元")
    expect(page.get_by_role("alert")).to_be_hidden()


def click_and_wait(page, reply, name):
    """Click a quick reply of ``reply``; return the assistant's answer to it."""
    before = answers(page).count()
    reply.get_by_role("button", name=name).click()
    expect(answers(page)).not_to_have_count(before, timeout=ANSWER)
    return answers(page).last


def test_a_complaint_filed_in_the_widget_gets_a_reference_and_its_deadlines(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/?lang=en")
    open_widget(page, "en")
    say(page, "I want to make a complaint")
    category = say(page, "You charged me a redemption fee on Steady Bond A that nobody told me about")
    expect(category).to_contain_text("“Fees and charges”. Is that right?")
    outcome = click_and_wait(page, category, "Fees and charges")
    expect(outcome).to_contain_text("What would you like us to do")
    contact = say(page, "refund the fee")
    summary = click_and_wait(page, contact, "Answer me in this chat")
    expect(summary).to_contain_text("Product: Evergreen Steady Bond A")
    chromium.shot(page, "summary")
    filed = click_and_wait(page, summary, "Submit")
    expect(filed).to_contain_text(re.compile("registered under reference " + pattern("C")))
    expect(filed).to_contain_text("(5 working days)")
    expect(log(page)).not_to_contain_text("/affirm")  # the click shows as "Submit"
    reference = re.search(pattern("C"), filed.inner_text()).group(0)
    status = say(page, f"status of {reference}")
    expect(status).to_contain_text(f"Complaint {reference} (Fees and charges): received.")
    chromium.shot(page)
