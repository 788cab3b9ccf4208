"""The agent console in a browser page (bot/console/static/), and the console API without one."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request

from playwright.sync_api import expect

from bot.core.staff import demo_password

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
    expect(page.get_by_role("heading", name="Agent console")).to_be_visible()
    return page


def log_in(page, staff_id, password=None):
    page.get_by_label("Staff ID", exact=True).fill(staff_id)
    page.get_by_label("Password", exact=True).fill(password if password is not None else demo_password(staff_id))
    page.get_by_role("button", name="Log in").click()


def logged_in(page, name):
    expect(page.locator("#user-name")).to_have_text(name)
    expect(page.get_by_role("heading", name="Waiting for an agent")).to_be_visible()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")  # the WebSocket is open


def queue_row(page, conversation):
    return page.locator(f'#queue-body tr[data-conversation-id="{conversation}"]')


def console_messages(page, sender=None):
    return page.locator("#messages .c-msg" + (f"--{sender}" if sender else ""))


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
