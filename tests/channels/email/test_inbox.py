"""A clean email inbox (issue #17): machine mail kept as automated tickets outside the queue and
moved in by an agent; both auto-reply headers on every automatic mail as the SMTP server received
it; our name in the mail's language; the asked product's fact; an urgent report's safety steps
first; a CRM customer's tier from their address (revealing nothing); the survey by mail, rated
once on a small page. Real mail through dovecot and aiosmtpd, the real assistant, on SQLite and
PostgreSQL; the survey page in headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.core.audit import AuditEntry
from bot.core.models import Customer
from bot.core.staff import DEMO_AGENT
from bot.handoff.models import Handoff
from bot.service_hours import SHANGHAI
from bot.surveys import Survey
from tests.support.browser import Browser
from tests.support.clients import Console
from tests.support.mail import SERVICE, body, email_env, fixture, mails_to, message_id_of, new_mail, processed, ticket_of
from tests.support.system import ROOT, ROOT_ENV, running_assistant
from tests.support.waiting import wait_for

KEY = Fernet.generate_key().decode()
SESSION_SECRET = "test-session-secret-of-at-least-32-bytes"  # tests/support/system.py's
PUBLIC_URL = "https://service.evergreen.example"  # where customers reach the service; the tests swap in the real one
DISCLOSURE_ZH = "理财非存款"
DISCLOSURE_EN = "not deposits"


@pytest.fixture(scope="module")
def system(database_url, dovecot, smtp, tmp_path_factory):
    env = {**email_env(dovecot, smtp), "PERSONAL_DATA_KEY": KEY, "EMAIL_SURVEY_URL": PUBLIC_URL}
    with running_assistant(database_url, tmp_path_factory.mktemp("logs"), **env) as assistant:
        yield assistant


def handoffs_of(db, conversation_id):
    db.expire_all()
    return list(db.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)).scalars())


def wait_processed(database_url, raw):
    wait_for(lambda: processed(database_url, message_id_of(raw)), message="the mail to be processed")
    return ticket_of(database_url, message_id_of(raw))


# --- 1. Automated mail ------------------------------------------------------------------------

MACHINE_MAIL = {
    "auto-submitted": lambda: new_mail("Chen Jing <chen.jing@customer.example>", "Out of Office: back on 7 December",
                                       "I am out of the office until 7 December with limited access to email.",
                                       Auto_Submitted="auto-replied"),
    "bulk": lambda: new_mail("Fund Weekly <editor@fundweekly.example>", "Fund Weekly: the branch locator of the week",
                             "This week's market news and where to find a branch near you.", Precedence="bulk"),
    "list": lambda: fixture("mailing_list.eml"),
    "bounce": lambda: fixture("bounce.eml"),
    "no-reply": lambda: new_mail("Shop Notifications <no-reply@shop.example>", "Your order has shipped",
                                 "Your order 12345 has shipped. Do not reply to this message."),
    "own loop": lambda: new_mail(f"长青财富客服 <{SERVICE}>", "[Q20261130-1234] 回复：咨询", "我们已收到您的邮件。"),
}


@pytest.mark.parametrize("reason", list(MACHINE_MAIL))
def test_machine_mail_is_an_automated_ticket_never_queued_nor_answered(system, dovecot, smtp, database_url, db, reason):
    raw = MACHINE_MAIL[reason]()
    before = len(smtp.messages())
    dovecot.append(raw)
    ticket = wait_processed(database_url, raw)
    assert (ticket.state, ticket.category, ticket.intent) == ("automated", "automated", None)  # the NLU never read it
    assert ticket.acknowledgement_id is None and ticket.no_acknowledgement
    assert handoffs_of(db, ticket.conversation_id) == []  # no waiting handoff, so in no waiting figure
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    assert ticket.conversation_id not in [h["conversation_id"] for h in agent.waiting()]
    status, listed = agent.call("GET", "/console/api/email/automated")
    assert status == 200 and ticket.id in [t["id"] for t in listed["automated"]]
    time.sleep(1)
    assert len(smtp.messages()) == before  # never acknowledged


def test_an_out_of_office_answering_our_mail_does_not_queue_its_ticket_again(system, dovecot, smtp, database_url, db):
    question = new_mail("Wang Fang <wang.fang@customer.example>", "Opening hours", "When does your Shanghai branch open on Saturdays?")
    dovecot.append(question)
    [ack] = wait_for(lambda: mails_to(smtp, "wang.fang@customer.example"), message="the acknowledgement")
    ticket = ticket_of(database_url, message_id_of(question))
    [handoff] = handoffs_of(db, ticket.conversation_id)
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    assert agent.call("POST", f"/console/api/handoffs/{handoff.id}/claim")[0] == 200
    assert agent.call("POST", f"/console/api/handoffs/{handoff.id}/resolve")[0] == 200
    away = new_mail("Wang Fang <wang.fang@customer.example>", f"Automatic reply: {ack['Subject']}", "I am away until Monday.",
                    In_Reply_To=ack["Message-ID"], Auto_Submitted="auto-replied")
    dovecot.append(away)
    wait_for(lambda: processed(database_url, message_id_of(away)), message="the out-of-office to be processed")
    assert [h.state for h in handoffs_of(db, ticket.conversation_id)] == ["resolved"]


def test_an_agent_finds_automated_mail_and_moves_it_into_the_queue(system, dovecot, database_url, db):
    raw = new_mail("Li Hua <li.hua@customer.example>", "Automatic reply: tax certificate 2026",
                   "I am travelling. Please send the 2026 tax certificate for my fund holdings.", Auto_Submitted="auto-replied")
    dovecot.append(raw)
    ticket = wait_processed(database_url, raw)
    assert ticket.state == "automated"
    anonymous = Console(system.contact_url)
    assert anonymous.call("GET", "/console/api/email/automated")[0] == 401
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    status, found = agent.call("GET", "/console/api/email/automated?q=" + urllib.parse.quote("TAX certificate"))
    assert status == 200 and [t["id"] for t in found["automated"]] == [ticket.id]
    [item] = found["automated"]
    assert item["reference"] == ticket.reference and "auto-submitted" in item["reason"]
    assert agent.call("GET", "/console/api/email/automated?q=no-such-words-anywhere")[1]["automated"] == []
    assert agent.call("GET", "/console/api/email/automated?limit=0")[0] == 400

    assert agent.call("POST", item["queue_url"], csrf=False)[0] == 403  # the console's CSRF token is required
    assert handoffs_of(db, ticket.conversation_id) == []
    status, moved = agent.call("POST", item["queue_url"])
    assert status == 200 and moved["conversation_id"] == ticket.conversation_id
    [handoff] = handoffs_of(db, ticket.conversation_id)
    assert (handoff.state, handoff.channel, handoff.reason) == ("waiting", "email", "email")
    assert ticket.conversation_id in [h["conversation_id"] for h in agent.waiting()]
    assert ticket_of(database_url, message_id_of(raw)).state == "open"
    assert ticket.id not in [t["id"] for t in agent.call("GET", "/console/api/email/automated")[1]["automated"]]
    audit = db.execute(select(AuditEntry).where(AuditEntry.action == "email_queue_automated")).scalars().all()
    assert [(a.actor, a.target) for a in audit] == [(f"staff:{DEMO_AGENT}", ticket.reference)]
    assert agent.call("POST", item["queue_url"])[0] == 409  # not automated any more
    assert agent.call("POST", "/console/api/email/automated/999999/queue")[0] == 404


# --- 2.–5. What our mail says and carries -------------------------------------------------------

def test_an_english_mail_gets_our_english_name_and_the_asked_products_fact(system, dovecot, smtp, database_url):
    raw = new_mail("Tom Baker <tom.baker@customer.example>", "Cash Plus minimum",
                   "Hello, what is the minimum investment for Evergreen Cash Plus?")
    dovecot.append(raw)
    [ack] = wait_for(lambda: mails_to(smtp, "tom.baker@customer.example"), message="the acknowledgement")
    assert ack["From"].addresses[0].display_name == "Evergreen Wealth Customer Service"
    assert ack["From"].addresses[0].addr_spec == SERVICE
    text = body(ack)
    assert "Evergreen Cash Plus (EG-MM01) is 100 CNY" in text and DISCLOSURE_EN in text, text
    for other in ("Steady Bond", "Balanced Allocation", "Growth Equity", "Private Equity", "USD Income"):
        assert other not in text  # the asked product's fact, not the catalogue or the whole FAQ


def test_a_chinese_mail_gets_our_chinese_name_encoded_and_only_the_asked_products_fact(system, dovecot, smtp):
    dovecot.append(fixture("zh_question.eml"))
    [ack] = wait_for(lambda: mails_to(smtp, "zhang.wei@example.cn"), message="the acknowledgement")
    assert ack["From"].addresses[0].display_name == "长青财富客服"
    raw = next(p.read_bytes() for p in sorted((smtp.directory / "messages").glob("*.eml"))
               if b"zhang.wei@example.cn" in p.read_bytes())
    from_line = re.search(rb"^From: (.*)$", raw, re.M).group(1)
    assert from_line.isascii() and from_line.startswith(b"=?utf-8?")  # RFC 2047, no raw 8-bit header
    text = body(ack)
    assert "长青货币宝（EG-MM01）的起购金额为 100 元" in text and DISCLOSURE_ZH in text
    for other in ("稳盈", "均衡", "成长", "私募", "美元"):
        assert other not in text


@pytest.mark.parametrize("sender, subject, text, fact, not_pasted", [
    # Both read as FAQ questions once, and got the FAQ's answer for every product.
    ("sun.mei@customer.example", "赎回到账时间", "请问长青货币宝赎回多久到账？",
     "长青货币宝（EG-MM01）的赎回规则：单日 10,000 元以内实时到账", ["债券基金", "长青美元收益", "私募股权"]),
    ("jack.lee@customer.example", "Fees", "What fees do you charge on Evergreen Balanced Allocation?",
     "Evergreen Balanced Allocation (EG-BL03) fees:", ["depending on the product", "Steady Bond", "Cash Plus"]),
], ids=["zh-redemption", "en-fees"])
def test_a_question_about_one_product_gets_that_products_fact_not_the_faq(system, dovecot, smtp, sender, subject, text,
                                                                         fact, not_pasted):
    dovecot.append(new_mail(sender, subject, text))
    [ack] = wait_for(lambda: mails_to(smtp, sender), message="the acknowledgement")
    answer = body(ack)
    assert fact in answer and (DISCLOSURE_ZH in answer or DISCLOSURE_EN in answer), answer
    for pasted in not_pasted:
        assert pasted not in answer


def test_an_urgent_report_leads_with_the_safety_steps(system, dovecot, smtp, database_url):
    raw = new_mail("赵强 <zhao.q@customer.example>", "账户被盗", "我的账户被盗了，有人登录后把5万元转走了，不是我操作的！")
    dovecot.append(raw)
    [ack] = wait_for(lambda: mails_to(smtp, "zhao.q@customer.example"), message="the acknowledgement")
    ticket = ticket_of(database_url, message_id_of(raw))
    assert ticket.urgent and ticket.complaint_reference
    assert str(ack["Subject"]).startswith("【紧急】")
    text = body(ack).replace("\r\n", "\n")
    greeting, first = text.split("\n\n")[:2]
    assert greeting == "赵强，您好：" and first.startswith("我们已将此事标记为紧急") and "400-820-8888" in first
    assert text.index("400-820-8888") < text.index("24 小时内") < text.index("投诉已登记")  # the ordinary deadlines after


def test_every_automatic_mail_carries_both_headers_as_received(system, smtp):
    """Run after the mails above (and before the survey's, checked in its own test): every mail
    the SMTP server received from us that is automatic has both headers."""
    automatic = [m for m in smtp.messages() if m["Auto-Submitted"] is not None]
    assert len(automatic) >= 4  # acknowledgements of questions (zh, en) and of an urgent complaint
    for mail in automatic:
        assert mail["Auto-Submitted"] == "auto-replied" and mail["X-Auto-Response-Suppress"] == "All", mail["Subject"]


# --- 6. A CRM customer's address ----------------------------------------------------------------

def test_a_known_senders_tier_sets_the_priority_and_nothing_of_the_account_is_told(system, dovecot, smtp, database_url, db, tmp_path):
    export = tmp_path / "crm.csv"
    export.write_text("id,name,tier,risk_level,risk_expires,language,email\n"
                      "C-PRIV-77,欧阳秀英,private,C4,2027-06-30,zh,Ouyang.XY@Customer.example\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "bot.server.customers", "import", str(export), "--database-url", database_url],
                          cwd=ROOT, env={**ROOT_ENV, "PATH": "/usr/bin:/bin", "PERSONAL_DATA_KEY": KEY},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    customer = db.execute(select(Customer).where(Customer.id == "C-PRIV-77")).scalar_one()
    assert "ouyang" not in (customer.email_sealed + customer.email_key).lower()  # sealed and hashed, never plain
    assert Fernet(KEY.encode()).decrypt(customer.email_sealed.encode()).decode() == "Ouyang.XY@Customer.example"

    raw = new_mail("秀英 <ouyang.xy@customer.example>", "查询我的持仓", "你好，请告诉我账户里现在有多少钱，风险等级是多少？")
    stranger = new_mail("无名 <someone.else@customer.example>", "查询持仓", "你好，请告诉我账户里现在有多少钱？")
    dovecot.append(raw)
    dovecot.append(stranger)
    [ack] = wait_for(lambda: mails_to(smtp, "ouyang.xy@customer.example"), message="the acknowledgement")
    wait_for(lambda: processed(database_url, message_id_of(stranger)), message="the stranger's mail")
    ticket = ticket_of(database_url, message_id_of(raw))
    assert ticket.customer_id == "C-PRIV-77"
    [handoff] = handoffs_of(db, ticket.conversation_id)
    assert (handoff.tier, handoff.queue, handoff.customer_id) == ("private", "private", None)  # the tier, not a verified identity
    [other] = handoffs_of(db, ticket_of(database_url, message_id_of(stranger)).conversation_id)
    assert (other.tier, other.queue) == ("standard", "general")
    text = body(ack)
    assert "欧阳" not in text and "C4" not in text and "C-PRIV-77" not in text and "private" not in text.lower()
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    status, view = agent.call("GET", f"/console/api/conversations/{ticket.conversation_id}")
    assert status == 200 and view["channel_details"]["crm_customer"] == {
        "id": "C-PRIV-77", "name": "欧阳秀英", "tier": "private", "verified": False}


# --- 7. The survey by mail ----------------------------------------------------------------------

@pytest.fixture
def chromium(system):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = Browser(playwright, system.contact_url, "email-survey").launch()
        try:
            yield browser
        finally:
            browser.close()


def page_status(url: str, data: bytes = None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_resolved_email_ticket_is_surveyed_by_mail_and_rated_once(system, dovecot, smtp, database_url, db, chromium):
    from channels.email.survey import SurveyLinks

    raw = new_mail("Emma Stone <emma.stone@customer.example>", "Change of address", "Hello, how do I change my postal address?")
    dovecot.append(raw)
    wait_for(lambda: mails_to(smtp, "emma.stone@customer.example"), message="the acknowledgement")
    ticket = ticket_of(database_url, message_id_of(raw))
    [handoff] = handoffs_of(db, ticket.conversation_id)
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    assert agent.call("POST", f"/console/api/handoffs/{handoff.id}/claim")[0] == 200
    assert agent.call("POST", f"/console/api/conversations/{ticket.conversation_id}/messages",
                      {"text": "Dear Emma, you can change it in the app under Me > Profile."})[0] == 200
    assert agent.call("POST", f"/console/api/handoffs/{handoff.id}/resolve")[0] == 200
    mails = wait_for(lambda: len(mails_to(smtp, "emma.stone@customer.example")) == 3 and mails_to(smtp, "emma.stone@customer.example"),
                     message="the agent's reply, then the survey")
    reply, survey_mail = mails[1], mails[2]
    assert "Me > Profile" in body(reply)  # the agent's words first
    assert str(survey_mail["Subject"]) == f"[{ticket.reference}] How did we do?"
    assert survey_mail["Auto-Submitted"] == "auto-replied" and survey_mail["X-Auto-Response-Suppress"] == "All"
    assert survey_mail["In-Reply-To"] == message_id_of(raw)
    links = re.findall(re.escape(PUBLIC_URL) + r"(/email/survey/\S+)", body(survey_mail))
    assert [urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["rating"] for link in links] == [["5"], ["4"], ["3"], ["2"], ["1"]]
    four = system.contact_url + links[1]
    [survey] = db.execute(select(Survey).where(Survey.conversation_id == ticket.conversation_id)).scalars().all()
    assert (survey.channel, survey.trigger, survey.agent_id, survey.rating) == ("email", "agent", DEMO_AGENT, None)

    # A mail scanner opens every link: nothing is recorded by a GET.
    for link in links:
        assert page_status(system.contact_url + link)[0] == 200
    db.expire_all()
    assert db.get(Survey, survey.id).rating is None

    page = chromium.page()
    page.goto(four)
    assert page.locator("input[name=rating][value='4']").is_checked()
    assert page.locator("h1").inner_text() == "Rate our service"
    page.get_by_role("button", name="Submit rating").click()
    page.get_by_text("Thank you for your rating (4 out of 5)!").wait_for()
    db.expire_all()
    rated = db.get(Survey, survey.id)
    assert rated.rating == 4 and rated.rated_at is not None

    # Used once: the same link, another rating, a forged and an expired link are refused.
    status, text = page_status(four)
    assert status == 409 and "already rated" in text
    token = urllib.parse.urlsplit(links[0]).path.rsplit("/", 1)[1]
    status, text = page_status(system.contact_url + f"/email/survey/{token}", b"rating=5")
    assert status == 409 and db.get(Survey, survey.id).rating == 4
    survey_id, expires, signature = token.split(".")
    forged = f"{survey_id}.{int(expires) + 86400 * 365}.{signature}"
    status, text = page_status(system.contact_url + f"/email/survey/{forged}?rating=5", b"rating=5")
    assert status == 403 and "not valid" in text and "无效" in text
    expired = SurveyLinks(SESSION_SECRET, PUBLIC_URL).token(survey.id, datetime.now(SHANGHAI) - timedelta(days=8))
    status, text = page_status(system.contact_url + f"/email/survey/{expired}", b"rating=5")
    assert status == 410 and "expired" in text
    assert page_status(system.contact_url + links[0].replace("rating=5", "rating=9"))[0] == 409  # used: said before the rating
    db.expire_all()
    assert db.get(Survey, survey.id).rating == 4


def test_a_survey_address_that_cannot_work_stops_the_production_check():
    from channels.email.channel import EmailChannel

    assert EmailChannel.problems({"EMAIL_SURVEY_URL": "https://service.example.com"}) == []
    for wrong in ("service.example.com", "ftp://service.example.com", "https://"):
        assert EmailChannel.problems({"EMAIL_SURVEY_URL": wrong}) == [
            "EMAIL_SURVEY_URL must be an http(s) address, e.g. https://service.example.com"]
