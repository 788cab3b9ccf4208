"""Continuing on Telegram from the chat widget (issue #6): a verified customer gets a one-time
link code in the widget, with the bot's deep link, and a real Telegram update ``/start <code>``
posted to the webhook links that chat to the customer's profile. The system here is this
module's own, with the Telegram channel configured and the Bot API replaced by the capture
server of tests/support/telegram_api.py (``TELEGRAM_API_URL``). Each test leaves screenshots in
test-artifacts/screenshots/."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import knowledge
from tests.support.browser import CHROMIUM, running_system

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.telegram import BOT_USERNAME, TelegramUser, telegram_settings  # noqa: E402
from tests.support.widget import message_box, open_widget, panel  # noqa: E402

OFFER = {"zh": "在 Telegram 上继续", "en": "Continue on Telegram"}
OPEN = {"zh": "打开 Telegram", "en": "Open Telegram"}


@pytest.fixture(scope="module")
def contact_url(tmp_path_factory, bot_api):
    """This module's own system, with the Telegram channel on (overrides conftest's); at 10:00
    Beijing time, codes are valid until 10:10."""
    with running_system(tmp_path_factory, "telegram-link", **telegram_settings(bot_api)) as url:
        yield url


def offer(page, lang="zh"):
    return panel(page).get_by_role("button", name=OFFER[lang])


def card(page):
    return page.locator(".egw-tg")


def open_as(page, url, lang="zh"):
    """Open the demo page and the widget; returns the session call's answer."""
    with page.expect_response(lambda r: r.url.endswith("/api/v1/sessions") and r.status == 200) as session:
        page.goto(url)
        open_widget(page, lang)
    return session.value.json()


def test_a_verified_customer_gets_a_code_and_the_deep_link_links_the_telegram_chat(chromium, contact_url, bot_api):
    page = chromium.page()
    session = open_as(page, chromium.base_url + "/?as=demo-premier")
    expect(page.locator("#demo-who")).to_contain_text("demo-premier")
    assert session["customer"]["verified"] is True
    assert session["telegram"] == {"bot": BOT_USERNAME}
    expect(offer(page)).to_be_visible()
    expect(card(page)).to_be_hidden()

    # Keyboard only: from the message box, Tab reaches the offer; Enter asks for a code.
    expect(message_box(page)).to_be_focused()
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('egw-tg-offer-btn')"):
            break
    else:
        pytest.fail("Tab never reached “在 Telegram 上继续”")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/link-codes")) as issued:
        page.keyboard.press("Enter")
    assert issued.value.status == 200
    code = issued.value.json()["code"]

    shown = card(page)
    expect(shown).to_be_visible()
    expect(shown.get_by_role("heading", name=OFFER["zh"])).to_be_focused()  # the card is announced
    expect(shown.locator(".egw-tg-code")).to_have_text(code)
    style = shown.locator(".egw-tg-code").evaluate("e => [getComputedStyle(e).fontFamily, getComputedStyle(e).fontSize]")
    assert "monospace" in style[0] and float(style[1].rstrip("px")) >= 24, style
    expect(shown).to_contain_text("您的一次性关联码")
    expect(shown).to_contain_text("有效期 10 分钟（至 10:10），仅可使用一次。")
    link = shown.get_by_role("link", name=OPEN["zh"])
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"https://t.me/{BOT_USERNAME}?start={code}")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(shown.locator(".egw-tg-help")).to_have_text(f"如果 Telegram 没有打开，请在 Telegram 中找到 @{BOT_USERNAME}，发送： /link {code}")
    chromium.shot(page, "code")

    # What the deep link makes the Telegram app send: "/start <code>", as a real update.
    start = parse_qs(urlsplit(link.get_attribute("href")).query)["start"][0]
    user = TelegramUser(contact_url, bot_api, 630000001)
    user.send(f"/start {start}")
    user.wait_for(knowledge.message("telegram_linked", "zh"))
    assert user.texts()[0].startswith("隐私提示")  # the privacy notice comes first, as for everyone
    assert not any(knowledge.message("telegram_link_invalid", "zh") in text for text in user.texts())

    # Close returns focus to the offer; Escape inside the card closes only the card.
    shown.get_by_role("button", name="关闭关联码").click()
    expect(shown).to_be_hidden()
    expect(offer(page)).to_be_focused()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/link-codes")) as again:
        page.keyboard.press("Enter")
    expect(shown.locator(".egw-tg-code")).to_have_text(again.value.json()["code"])
    assert again.value.json()["code"] != code  # a fresh one-time code
    page.keyboard.press("Escape")
    expect(shown).to_be_hidden()
    expect(panel(page)).to_be_visible()
    expect(offer(page)).to_be_focused()


def test_an_anonymous_visitor_is_not_offered_telegram(chromium):
    page = chromium.page()
    session = open_as(page, chromium.base_url + "/")
    assert session["customer"]["verified"] is False
    assert "telegram" not in session
    page.wait_for_timeout(500)
    expect(page.locator(".egw-tg-offer")).to_be_hidden()
    expect(offer(page)).to_have_count(0)
    expect(card(page)).to_be_hidden()
    chromium.shot(page)


def test_english_labels_an_error_notice_and_the_switch_to_chinese(chromium):
    page = chromium.page()
    session = open_as(page, chromium.base_url + "/?lang=en&as=demo-english", "en")
    assert session["telegram"] == {"bot": BOT_USERNAME}
    expect(offer(page, "en")).to_be_visible()

    # The service cannot be reached: the widget's notice says so, and nothing else is shown.
    page.route("**/api/v1/link-codes", lambda route: route.abort())
    offer(page, "en").click()
    expect(page.locator(".egw-notice")).to_contain_text("We cannot reach our service right now")
    expect(card(page)).to_be_hidden()
    page.unroute("**/api/v1/link-codes")

    with page.expect_response(lambda r: r.url.endswith("/api/v1/link-codes")) as issued:
        offer(page, "en").click()
    code = issued.value.json()["code"]
    shown = card(page)
    expect(shown.get_by_role("heading", name=OFFER["en"])).to_be_visible()
    expect(shown).to_contain_text("Your one-time link code")
    expect(shown.locator(".egw-tg-code")).to_have_text(code)
    expect(shown).to_contain_text("Valid for 10 minutes (until 10:10), once only.")
    expect(shown.get_by_role("link", name=OPEN["en"])).to_have_attribute("href", f"https://t.me/{BOT_USERNAME}?start={code}")
    expect(shown.locator(".egw-tg-help")).to_have_text(f"If Telegram does not open, find @{BOT_USERNAME} in Telegram and send: /link {code}")
    expect(shown.get_by_role("button", name="Close link code")).to_be_visible()
    expect(page.locator(".egw-notice")).to_be_hidden()  # the failure's notice went with the success
    chromium.shot(page, "en")

    # The card follows the widget's language.
    panel(page).get_by_role("button", name="中文").click()
    expect(shown.get_by_role("heading", name=OFFER["zh"])).to_be_visible()
    expect(shown.get_by_role("link", name=OPEN["zh"])).to_be_visible()
    expect(shown).to_contain_text("有效期 10 分钟（至 10:10），仅可使用一次。")
    expect(offer(page)).to_be_visible()
    chromium.shot(page, "zh")
