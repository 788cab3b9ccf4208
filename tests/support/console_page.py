"""The agent console in a browser page (bot/console/static/), and the console API without one.

The console speaks the staff member's language (Simplified Chinese unless they chose English);
its login page follows the browser, whose language is zh-CN in these tests. ``log_in`` sets the
staff member's language first: English unless told otherwise, the language the console's older
tests were written in; ``text`` is a catalogue's text, for asserting what a page shows."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.request

from playwright.sync_api import expect

from bot.console import i18n
from bot.core.staff import demo_password

text = i18n.text  # text(key, language, **params): what the console shows
# A date and time as the staff pages show it: Beijing time, with the weekday.
DATE_TIME = {"zh": r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} 周[一二三四五六日]", "en": r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} (Mon|Tue|Wed|Thu|Fri|Sat|Sun)"}
# What staff see but is not the catalogue's to translate: customers' words, names, references.
NOT_CATALOGUE = ("#messages, .c-quote, .c-side-summary, .c-summary, #user-name, #profile dd, #notes .c-note-text, "
                 "#language-select, .q-review-text, [data-table] tbody")

# Before any script of the console runs: a desktop-notification permission that is granted, and
# a record of the notifications and of the beeps (oscillators) the console makes.
RECORD_ALERTS = """
(() => {
  window.__notifications = [];
  function FakeNotification(title, options) {
    window.__notifications.push({ title: title, body: (options && options.body) || '' });
  }
  FakeNotification.permission = 'granted';
  FakeNotification.requestPermission = function () { return Promise.resolve('granted'); };
  FakeNotification.prototype.close = function () {};
  window.Notification = FakeNotification;
  window.__beeps = 0;
  const Audio = window.BaseAudioContext || window.AudioContext;
  if (Audio) {
    const create = Audio.prototype.createOscillator;
    Audio.prototype.createOscillator = function () { window.__beeps += 1; return create.call(this); };
  }
})();
"""


def conversation_id(page) -> str:
    return page.evaluate("""() => {
        const key = Object.keys(localStorage).find(k => k.startsWith('evergreen-chat:') && k.endsWith(':session'));
        return JSON.parse(localStorage.getItem(key)).conversationId;
    }""")


def console(chromium):
    """A new browser context on the console's login page (its own cookies: one staff member)."""
    page = chromium.page()
    page.add_init_script(RECORD_ALERTS)
    response = page.goto(chromium.base_url + "/console/")
    assert response.status == 200
    expect(page.get_by_role("heading", name=text("brand.console", "zh"))).to_be_visible()  # a zh-CN browser
    return page


def prefer(base_url, staff_id, language):
    """Choose the console language of a demo account, as its top bar does."""
    status, answer = StaffSession(base_url, staff_id).call("PUT", "/console/api/me/language", {"language": language})
    assert status == 200, answer


def log_in(page, staff_id, password=None, language="en"):
    """Log in on the (Chinese) login page, as a staff member who prefers ``language``."""
    prefer(page.url.split("/console/")[0], staff_id, language)
    page.locator("#login-id").fill(staff_id)
    page.locator("#login-password").fill(password if password is not None else demo_password(staff_id))
    page.locator("#login-submit").click()


def logged_in(page, name, language="en"):
    expect(page.locator("#user-name")).to_have_text(name)
    expect(page.get_by_role("heading", name=text("queue.title", language))).to_be_visible()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")  # the WebSocket is open


def queue_row(page, conversation):
    return page.locator(f'#queue-body tr[data-conversation-id="{conversation}"]')


def console_messages(page, sender=None):
    return page.locator("#messages .c-msg" + (f"--{sender}" if sender else ""))


def foreign_texts(page, language, root="body"):
    """The texts shown under ``root`` that are the other language's catalogue (a placeholder
    matches anything): none may be, on a page in ``language``."""
    other = {"zh": "en", "en": "zh"}[language]
    mine, theirs = i18n.catalogue(language), i18n.catalogue(other)
    patterns = [re.compile("^" + re.sub(r"\\\{\w+\\\}", ".+", re.escape(value)) + "$")
                for key, value in theirs.items() if value != mine[key] and re.search(r"\w", value)]
    shown = page.evaluate("""([root, skip]) => {
        const texts = [];
        const walk = document.createTreeWalker(document.querySelector(root), NodeFilter.SHOW_TEXT);
        while (walk.nextNode()) {
            const node = walk.currentNode, parent = node.parentElement;
            if (!node.textContent.trim() || parent.closest(skip) || !parent.checkVisibility()) continue;
            texts.push(node.textContent.trim());
        }
        return texts;
    }""", [root, NOT_CATALOGUE])
    return [shown_text for shown_text in shown if any(p.match(shown_text) for p in patterns)]


class StaffSession:
    """The console API without a browser (cookie jar and CSRF token), to tidy up after a test."""

    def __init__(self, base_url: str, staff_id: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = None
        status, answer = self.call("POST", "/console/api/login", {"id": staff_id, "password": demo_password(staff_id)})
        assert status == 200, answer
        self.csrf = answer["csrf_token"]

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        request = urllib.request.Request(self.base_url + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
