"""The supervisors' quality dashboard (bot/console/static/quality.html) in Debian's Chromium,
against this module's own system (SQLite), whose clock is frozen at a moment of today inside agent
hours, so that the handoff and the surveys fall on the same Beijing day as the messages. A little
history is made through the customer and console APIs (questions, a fallback, a rated goodbye, a
handoff resolved and rated, a complaint); the dashboard must show exactly it. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import codecs
import csv
import re
import time
from datetime import datetime, timedelta

import pytest

from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from bot.service_hours import SHANGHAI
from tests.support.browser import CHROMIUM, SCREENSHOTS, running_system
from tests.support.clients import Client

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.console_page import (  # noqa: E402
    DATE_TIME, StaffSession, console, foreign_texts, log_in, logged_in, text,
)

COMMENT = "回复很及时"
COMPLAINT = ["我要投诉", "上周赎回稳盈债券被多扣了0.5%的赎回费，之前没人告诉过我", "对", "退还赎回费", "我的手机 13812345678", "确认提交"]


def agent_hours_today() -> str:
    """Now in Beijing, moved into 09:00–20:30 if it is outside: a frozen clock on today's date."""
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    return min(max(now, now.replace(hour=9, minute=0, second=0)), now.replace(hour=20, minute=30, second=0)).isoformat()


@pytest.fixture(scope="module")
def contact_url(tmp_path_factory):
    """This module's own system (overrides conftest's), the clock frozen today in agent hours."""
    with running_system(tmp_path_factory, "quality-dashboard", EVERGREEN_CLOCK=agent_hours_today()) as url:
        yield url


def rate(customer: Client, answer_or_history, rating: int) -> None:
    """Tap the survey's rating button."""
    customer.tap(answer_or_history, str(rating))


def survey_of(customer: Client, timeout: float = 60):
    """The history once the assistant has asked for a rating (after an agent's resolve)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = customer.history()
        if any(b["title"] == "5" for m in history for b in m.get("buttons") or []):
            return history
        time.sleep(0.5)
    raise AssertionError("the assistant never asked for a rating")


@pytest.fixture(scope="module")
def history(contact_url):
    """Today's traffic: 13 customer messages on the website, 1 in the app. Returns the period the
    dashboard shows by default (the last seven Beijing days ending today)."""
    today = datetime.now(SHANGHAI).date()
    chatty = Client(contact_url)
    chatty.start()
    chatty.say("货币宝起购金额是多少")
    chatty.say("asdf qwer zxcv")
    rate(chatty, chatty.say("再见")["replies"], 4)
    chatty.say(COMMENT)  # 5 messages

    helped = Client(contact_url)
    conversation = helped.start()["conversation_id"]
    helped.say("我要转人工")
    supervisor = StaffSession(contact_url, DEMO_SUPERVISOR)
    status, queue = supervisor.call("GET", "/console/api/queue")
    [handoff] = [h for h in queue["waiting"] if h["conversation_id"] == conversation]
    for path, body in [(f"/console/api/handoffs/{handoff['id']}/claim", None),
                       (f"/console/api/conversations/{conversation}/messages", {"text": "您好，我来为您处理。"}),
                       (f"/console/api/handoffs/{handoff['id']}/resolve", None)]:
        status, answer = supervisor.call("POST", path, body)
        assert status == 200, answer
    rate(helped, survey_of(helped), 5)  # 2 messages

    complaining = Client(contact_url)
    complaining.start()
    replies = [complaining.say(text) for text in COMPLAINT]  # 6 messages
    assert any("C" + today.strftime("%Y%m%d") in reply["text"] for reply in replies[-1]["replies"]), replies[-1]  # filed

    app = Client(contact_url)
    app.start(channel="app")
    app.say("你好")
    return (today - timedelta(days=6)).isoformat(), today.isoformat()


def figure(page, key):
    return page.locator(f'[data-kpi="{key}"] .q-kpi-value')


def chart(page, title):
    return page.locator("figure.q-chart").filter(has=page.get_by_role("heading", name=title, exact=True)).locator("svg")


def open_dashboard(chromium):
    page = console(chromium)
    log_in(page, DEMO_SUPERVISOR)
    logged_in(page, "Demo Supervisor")
    chromium.shot(page, "console")  # the topbar's link
    page.get_by_role("link", name="Quality dashboard").click()
    expect(page.get_by_role("heading", name="Service quality")).to_be_visible()
    return page


def test_a_supervisor_reads_the_days_quality_figures_and_downloads_a_table(chromium, history):
    start, today = history
    page = open_dashboard(chromium)
    assert page.url.endswith(f"/console/quality?from={start}&to={today}")
    expect(page.get_by_label("From", exact=True)).to_have_value(start)
    expect(page.get_by_label("To", exact=True)).to_have_value(today)

    expect(figure(page, "customer_messages")).to_have_text("14")
    expect(figure(page, "satisfaction_average")).to_have_text("4.50 / 5")
    expect(figure(page, "satisfaction_response_rate")).to_have_text("100.0%")
    expect(figure(page, "satisfaction_agent")).to_have_text("5.00")
    expect(figure(page, "satisfaction_bot")).to_have_text("4.00")
    expect(figure(page, "handoffs")).to_have_text("1")
    expect(figure(page, "credential_requests")).to_have_text("0")
    expect(figure(page, "disclosure_rate")).to_have_text("100.0%")
    expect(figure(page, "complaints_received")).to_have_text("1")
    expect(figure(page, "complaints_acknowledged")).to_have_text("—")  # pending: no rate yet
    expect(figure(page, "email_acknowledgement_p50")).to_have_text("—")
    expect(figure(page, "human_wait_p50")).to_have_text("0.0 s")  # the frozen clock: claimed the moment it was asked

    # The charts are drawn from the same figures: a bar per day, a point per day with ratings.
    messages = chart(page, "Customer messages per day")
    expect(messages.locator("rect.q-bar")).to_have_count(7)
    expect(messages.locator("rect.q-bar").last).to_have_attribute("data-value", "14")
    expect(messages.locator("desc")).to_contain_text(today[5:] + ": 14")  # for screen readers: "MM-DD: 14"
    ratings = chart(page, "Average rating per day")
    expect(ratings.locator("circle.q-point")).to_have_count(1)
    expect(ratings.locator("circle.q-point")).to_have_attribute("data-value", "4.5")
    given = chart(page, "Ratings given")
    expect(given.locator("rect.q-bar")).to_have_count(5)
    assert [given.locator(f'rect[data-label="Rating {n}"]').get_attribute("data-value") for n in "54321"] == ["1", "1", "0", "0", "0"]
    expect(chart(page, "Why conversations went to agents").locator('rect.q-bar[data-label="Asked for an agent"]')).to_have_attribute("data-value", "1")
    expect(chart(page, "Complaints inside each deadline").locator("rect.q-seg--pending")).to_have_count(3)
    expect(chart(page, "Complaints received per day").locator("rect.q-bar").last).to_have_attribute("data-value", "1")

    comments = page.locator('[data-table="satisfaction_comments"] tbody tr')
    expect(comments).to_have_count(1)
    expect(comments).to_contain_text(COMMENT)
    expect(comments).to_contain_text("The assistant")
    expect(page.locator('[data-table="top_misunderstood"] tbody')).to_contain_text("asdf qwer zxcv")
    chromium.shot(page, "dashboard")
    page.screenshot(path=str(SCREENSHOTS / f"{chromium.name}-dashboard-full.png"), full_page=True, animations="disabled")

    # Another channel: the figures, the charts and the address follow the filter.
    page.get_by_label("Channel").select_option("app")
    page.get_by_role("button", name="Apply").click()
    expect(figure(page, "customer_messages")).to_have_text("1")
    expect(figure(page, "satisfaction_average")).to_have_text("—")
    expect(chart(page, "Customer messages per day").locator("rect.q-bar").last).to_have_attribute("data-value", "1")
    expect(page.locator("#board-period")).to_contain_text("Mobile app")
    assert page.url.endswith(f"?from={start}&to={today}&channel=app")
    page.get_by_label("Channel").select_option("web")
    page.get_by_role("button", name="Apply").click()
    expect(figure(page, "customer_messages")).to_have_text("13")

    # The CSV of a table: the same filters, a header row, the comment.
    link = page.get_by_role("link", name="Download “Latest comments” as CSV")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"quality-satisfaction_comments-{start}-to-{today}.csv"
    with open(download.value.path(), "rb") as saved:
        assert saved.read(3) == codecs.BOM_UTF8  # Excel reads the Chinese comment as UTF-8
    with open(download.value.path(), encoding="utf-8-sig", newline="") as saved:
        rows = list(csv.reader(saved))
    assert rows[0] == ["Rated", "Rating", "Channel", "Language", "After", "Comment"]  # the supervisor's language
    assert [row[1:] for row in rows[1:]] == [["4", "web", "zh", "bot", COMMENT]]

    # A period that ends before it starts is caught before asking the service.
    page.get_by_label("From", exact=True).fill(today)
    page.get_by_label("To", exact=True).fill(start)
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert")).to_contain_text("The period ends before it starts")
    expect(figure(page, "customer_messages")).to_have_text("13")


def test_an_agent_is_told_supervisors_only_and_nobody_logged_in_goes_to_the_login(chromium, history):
    page = console(chromium)
    log_in(page, DEMO_AGENT)
    logged_in(page, "Demo Agent")
    expect(page.get_by_role("link", name="Quality dashboard")).to_be_hidden()
    page.goto(chromium.base_url + "/console/quality")
    expect(page.get_by_role("heading", name="Supervisors only")).to_be_visible()
    expect(page.locator(".q-kpi")).to_have_count(0)
    expect(page.get_by_role("heading", name="Service quality")).to_be_hidden()
    chromium.shot(page, "agent")

    stranger = chromium.page()
    stranger.goto(chromium.base_url + "/console/quality")
    expect(stranger.get_by_label(text("login.id", "zh"), exact=True)).to_be_visible()
    assert stranger.url == chromium.base_url + "/console/"


def test_a_supervisor_labels_a_misunderstood_message_and_exports_the_labels(chromium, history):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    page = open_dashboard(chromium)
    # One complaint today is nothing unusual.
    expect(page.locator("#warnings")).to_contain_text("No complaint category or product is well above its usual level.")

    review = page.locator("#review")
    row = review.locator("tbody tr").filter(has_text="asdf qwer zxcv")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Not understood")
    # The complaint's description, given inside the complaint form, is not up for review.
    expect(review.locator("tbody tr").filter(has_text="多扣了")).to_have_count(0)
    row.get_by_label("What the customer meant: asdf qwer zxcv").select_option("ignore")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Saved: ignore")
    row.get_by_label("What the customer meant: asdf qwer zxcv").select_option("out_of_scope")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Saved: out_of_scope")  # changed their mind: the last label stands
    chromium.shot(page, "review")

    page.get_by_label("Show").select_option("labelled")
    labelled = review.locator("tbody tr").filter(has_text="asdf qwer zxcv")
    expect(labelled).to_have_attribute("data-label", "out_of_scope")
    page.get_by_label("Show").select_option("unlabelled")
    expect(review.locator("tbody tr").filter(has_text="asdf qwer zxcv")).to_have_count(0)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export labels (Rasa NLU YAML)").click()
    with open(download.value.path(), encoding="utf-8") as saved:
        data = RasaYAMLReader().reads(saved.read())
    assert [(m.get("intent"), m.get("text")) for m in data.intent_examples] == [("out_of_scope", "asdf qwer zxcv")]


def test_the_dashboard_is_in_chinese_by_default_and_switches_at_once(chromium, history):
    start, today = history
    page = console(chromium)
    log_in(page, DEMO_SUPERVISOR, language="zh")  # as every account is until its owner chooses
    logged_in(page, "Demo Supervisor", "zh")
    page.get_by_role("link", name=text("brand.quality", "zh")).click()
    expect(page.get_by_role("heading", name=text("q.title", "zh"))).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert page.title() == text("page.quality", "zh")
    expect(page.locator('[data-kpi="customer_messages"] .q-kpi-label')).to_have_text(text("q.kpi.customer_messages", "zh"))
    expect(figure(page, "customer_messages")).to_have_text("14")
    expect(page.locator("#computed")).to_have_text(re.compile("^" + text("q.computed", "zh", time=DATE_TIME["zh"]) + "$"))
    expect(page.locator("#board-period")).to_have_text(
        f"{start} – {today} · {text('q.filter.all_channels', 'zh')} · {text('q.filter.all_queues', 'zh')} · "
        f"{text('q.filter.all_languages', 'zh')}")
    messages = chart(page, text("q.chart.messages_per_day", "zh"))
    expect(messages.locator("rect.q-bar").last).to_have_attribute("data-value", "14")
    comments = page.locator('[data-table="satisfaction_comments"]')
    expect(comments.locator("thead th")).to_have_text([text(f"q.col.satisfaction_comments.{c}", "zh") for c in
                                                       ("rated_at", "rating", "channel", "language", "trigger", "comment")])
    expect(comments.locator("tbody td").first).to_have_text(re.compile("^" + DATE_TIME["zh"] + "$"))
    expect(comments.locator("tbody")).to_contain_text(text("q.trigger.bot", "zh"))
    assert foreign_texts(page, "zh") == []
    with page.expect_download() as download:
        page.get_by_role("link", name=text("q.csv.download", "zh", title=text("q.table.satisfaction_comments", "zh"))).click()
    with open(download.value.path(), encoding="utf-8-sig", newline="") as saved:
        assert next(csv.reader(saved)) == ["评分时间", "评分", "渠道", "语言", "评分时机", "留言"]
    chromium.shot(page, "dashboard-zh")

    # English from the top bar, at once: the figures stay, their words change
    page.get_by_label(text("topbar.language", "zh")).select_option("en")
    expect(page.get_by_role("heading", name="Service quality")).to_be_visible()
    expect(page.locator('[data-kpi="customer_messages"] .q-kpi-label')).to_have_text("Customer messages")
    expect(figure(page, "customer_messages")).to_have_text("14")
    expect(comments.locator("thead th").first).to_have_text("Rated")
    expect(page.locator("#computed")).to_have_text(re.compile("^" + text("q.computed", "en", time=DATE_TIME["en"]) + "$"))
    assert foreign_texts(page, "en") == []
    page.reload()
    expect(page.get_by_role("heading", name="Service quality")).to_be_visible()
