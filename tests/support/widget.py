"""What a customer does in the chat widget, for the browser tests of the widget and the console."""

from __future__ import annotations

import re

from playwright.sync_api import expect

ANSWER = 60_000  # ms: the assistant's first answers can take a while


def launcher(page, lang="zh"):
    name = "打开在线客服对话" if lang == "zh" else "Open customer service chat"
    return page.get_by_role("button", name=re.compile("^" + name))


def panel(page):
    return page.get_by_role("dialog")


def message_box(page):
    return page.locator(".egw-input")


def log(page):
    return page.get_by_role("log")


def customer_bubbles(page):
    return log(page).locator(".egw-msg--in .egw-bubble")


def answers(page):
    """Everything the firm said (assistant, agent or system)."""
    return log(page).locator(".egw-msg--out")


def open_widget(page, lang="zh"):
    launcher(page, lang).click()
    expect(panel(page)).to_be_visible()
    expect(message_box(page)).to_be_focused()


def send(page, text):
    """Type and send like a customer; wait until the service has stored the message."""
    message_box(page).fill(text)
    message_box(page).press("Enter")
    expect(message_box(page)).to_have_value("")
    mine = log(page).locator(".egw-msg--in").last
    expect(mine).to_have_attribute("data-id", re.compile(r"^\d+$"), timeout=ANSWER)


def say(page, text):
    """Send like a customer and wait for the answer; returns it."""
    before = answers(page).count()
    send(page, text)
    expect(answers(page)).not_to_have_count(before, timeout=ANSWER)
    return answers(page).last
