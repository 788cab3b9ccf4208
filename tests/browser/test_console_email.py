"""The agent console's side of an email (issue #7): a mail put into a real dovecot mailbox becomes
a queued conversation; an agent in Debian's Chromium sees who wrote, the ticket, the subject and
the attachments (downloads only), answers, and the answer leaves through a real SMTP server
process, in the mail's thread. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.core.staff import DEMO_AGENT
from channels.email.tickets import conversation_id_for
from tests.support.browser import CHROMIUM, running_system

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.console_page import console, console_messages, log_in, logged_in, queue_row  # noqa: E402
from tests.support.mail import body, email_env, fixture, mails_to, subject  # noqa: E402
from tests.support.smtp_server import SmtpServer  # noqa: E402
from tests.support.widget import ANSWER  # noqa: E402

CUSTOMER = "olivia.brown@example.com"


@pytest.fixture(scope="module")
def contact_url(tmp_path_factory, mail_servers):
    """This module's own system, with the email channel on (overrides conftest's)."""
    with running_system(tmp_path_factory, "email-console", **email_env(*mail_servers)) as url:
        yield url


def wait_for_mail(smtp: SmtpServer, count: int):
    deadline = time.monotonic() + ANSWER / 1000
    while len(mails_to(smtp, CUSTOMER)) < count:
        assert time.monotonic() < deadline, f"no mail number {count} to {CUSTOMER}"
        time.sleep(0.2)
    return mails_to(smtp, CUSTOMER)[count - 1]


def test_an_agent_reads_an_email_with_its_attachments_and_answers_it_by_mail(chromium, mail_servers):
    dovecot, smtp = mail_servers
    agent = console(chromium)
    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")

    dovecot.append(fixture("attachment.eml"))
    ack = wait_for_mail(smtp, 1)  # the customer is acknowledged at once
    row = queue_row(agent, conversation_id_for("<attach.1@mail.example.com>"))
    expect(row).to_be_visible(timeout=ANSWER)
    expect(row).to_contain_text("Email to the service mailbox")
    expect(row).to_contain_text("Statement discrepancy")  # the subject is the summary
    chromium.shot(agent, "email-queue")

    row.get_by_role("button", name="Claim").click()
    expect(agent.locator("#conv-title")).to_contain_text("Olivia Brown")
    profile = agent.locator("#profile")
    expect(profile).to_contain_text(CUSTOMER)
    reference = subject(ack)[1:].split("]", 1)[0]  # "[Q20261130-267811] …"
    expect(profile).to_contain_text(reference)
    expect(console_messages(agent, "customer").first).to_contain_text("the attached statement shows a fee I did not expect")
    expect(console_messages(agent, "bot").first).to_contain_text(reference)  # the acknowledgement, as sent
    expect(console_messages(agent, "system")).to_have_count(0)  # nobody "joined the chat" of a mail thread

    # Attachments are links that download, the script included: nothing is opened in the console
    script = agent.get_by_role("link", name="run.sh")
    expect(script).to_have_attribute("download", "run.sh")
    with agent.expect_download() as download:
        script.click()
    assert Path(download.value.path()).read_bytes().startswith(b"#!/bin/sh")
    expect(agent.get_by_role("link", name="对账单.pdf")).to_be_visible()
    assert agent.evaluate("location.pathname") == "/console/"

    expect(agent.locator("#reply-hint")).to_contain_text("emailed to the customer")
    reply = agent.get_by_label("Reply to the customer")
    answer = "Dear Olivia, the 0.5% fee is the redemption fee for holdings under a year. <b>Kind regards</b>"
    reply.fill(answer)
    reply.press("Enter")
    expect(reply).to_have_value("")
    mail = wait_for_mail(smtp, 2)
    assert answer in body(mail)  # as typed, as plain text
    assert mail["In-Reply-To"] == "<attach.1@mail.example.com>" and subject(mail).startswith(f"[{reference}] Re: ")
    expect(console_messages(agent, "agent").last.locator(".c-msg-text")).to_have_text(answer)
    chromium.shot(agent, "email-conversation")
