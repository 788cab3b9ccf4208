"""The console's list of automated mail (issue #17): an out-of-office reply and a newsletter put
into a real dovecot mailbox beside a customer's mail; in Debian's Chromium, a Chinese-speaking
agent finds only the customer in the queue (and in its count), the two machine mails in a list of
their own with their reasons in words, searches it, and moves the newsletter into the queue; a
mail someone else moved first says so. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from channels.email.tickets import conversation_id_for
from tests.support.browser import CHROMIUM, running_system

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.clients import Console  # noqa: E402
from tests.support.console_page import DATE_TIME, console, foreign_texts, log_in, logged_in, queue_row, text  # noqa: E402
from tests.support.mail import email_env, mails_to, message_id_of, new_mail  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402
from tests.support.widget import ANSWER  # noqa: E402

CUSTOMER = "olivia.brown@example.com"
ZH = "zh"


@pytest.fixture(scope="module")
def contact_url(tmp_path_factory, mail_servers):
    """This module's own system, with the email channel on (overrides conftest's)."""
    with running_system(tmp_path_factory, "automated-mail", **email_env(*mail_servers)) as url:
        yield url


def automated_rows(page):
    return page.locator("#automated-body tr[data-ticket-id]")


def automated_row(page, subject):
    return automated_rows(page).filter(has_text=subject)


def reason(code):
    return text(f"automated.reason.{code}", ZH)


def search(page, words, language=ZH):
    page.get_by_label(text("automated.search_label", language)).fill(words)
    page.get_by_role("button", name=text("automated.search", language), exact=True).click()


def test_an_agent_finds_automated_mail_apart_from_the_queue_and_moves_a_newsletter_into_it(chromium, mail_servers, contact_url):
    dovecot, smtp = mail_servers
    away = new_mail("Chen Jing <chen.jing@customer.example>", "Out of Office: back on 7 December",
                    "I am out of the office until 7 December with limited access to email.", Auto_Submitted="auto-replied")
    newsletter = new_mail("Fund Weekly <editor@fundweekly.example>", "Fund Weekly: the funds of the week",
                          "This week's market news. Unsubscribe at the link below.", Precedence="bulk",
                          List_Unsubscribe="<mailto:unsubscribe@fundweekly.example>", List_Id="Fund Weekly <weekly.fundweekly.example>")
    question = new_mail(f"Olivia Brown <{CUSTOMER}>", "Redemption of my bond fund",
                        "How many days does the redemption of my bond fund take to reach my bank account?")
    for raw in (away, newsletter, question):
        dovecot.append(raw)
    api = Console(contact_url).log_in(DEMO_SUPERVISOR)
    wait_for(lambda: len(api.call("GET", "/console/api/email/automated")[1]["automated"]) == 2, ANSWER / 1000,
             "the two machine mails to be kept as automated")
    wait_for(lambda: mails_to(smtp, CUSTOMER), ANSWER / 1000, "the customer's acknowledgement")

    agent = console(chromium)
    log_in(agent, DEMO_AGENT, language=ZH)
    logged_in(agent, "Demo Agent", ZH)

    # The queue: only the customer, and only the customer counted as waiting
    customer = queue_row(agent, conversation_id_for(message_id_of(question)))
    expect(customer).to_be_visible(timeout=ANSWER)
    expect(agent.locator("#queue-body tr[data-conversation-id]")).to_have_count(1)
    expect(agent.locator("#queue-count")).to_have_text("1")
    expect(agent).to_have_title(re.compile(r"^\(1\) "))

    # The automated mail: a list of its own, closed until the agent opens it
    panel = agent.locator("#automated")
    expect(panel).to_be_visible()
    expect(agent.locator("#automated-count")).to_have_text("2")
    expect(automated_rows(agent).first).to_be_hidden()
    agent.get_by_text(text("automated.title", ZH), exact=True).click()
    expect(automated_rows(agent)).to_have_count(2)
    ooo, weekly = automated_row(agent, "Out of Office"), automated_row(agent, "Fund Weekly:")
    expect(ooo).to_contain_text("Chen Jing")
    expect(ooo).to_contain_text("chen.jing@customer.example")
    expect(ooo.locator("td").nth(3)).to_contain_text(reason("auto-submitted"))
    expect(ooo.locator("td").nth(3)).to_contain_text(reason("autoreply-subject"))
    expect(weekly.locator("td").nth(3)).to_contain_text(reason("precedence"))
    expect(weekly.locator("td").nth(3)).to_contain_text(reason("mailing-list"))
    expect(weekly.locator("td").first).to_have_text(re.compile("^" + DATE_TIME[ZH] + "$"))  # Beijing time
    expect(weekly.get_by_role("button", name=text("automated.move", ZH))).to_be_visible()
    assert foreign_texts(agent, ZH) == []
    chromium.shot(agent, "automated-list")

    # Search narrows the list; a search finding nothing says so
    search(agent, "weekly")
    expect(automated_rows(agent)).to_have_count(1)
    expect(weekly).to_be_visible()
    search(agent, "没有这样的邮件")
    expect(automated_rows(agent)).to_have_count(0)
    expect(agent.locator("#automated-body")).to_contain_text(text("automated.none_found", ZH, query="没有这样的邮件"))
    search(agent, "")
    expect(automated_rows(agent)).to_have_count(2)

    # The newsletter into the queue: it leaves the list, waits in the queue and is counted there
    newsletter_conversation = weekly.get_attribute("data-conversation-id")
    assert newsletter_conversation == conversation_id_for(message_id_of(newsletter))
    [listed] = api.call("GET", "/console/api/email/automated?q=weekly")[1]["automated"]
    weekly.get_by_role("button", name=text("automated.move", ZH)).click()
    expect(agent.locator("#flash")).to_have_text(text("automated.moved", ZH, reference=listed["reference"]))
    expect(automated_rows(agent)).to_have_count(1)
    expect(queue_row(agent, newsletter_conversation)).to_be_visible()
    expect(agent.locator("#queue-count")).to_have_text("2")
    expect(agent.locator("#automated-count")).to_have_text("1")
    chromium.shot(agent, "automated-moved")

    # Someone else moved the out-of-office first: the agent is told, and it leaves the list
    [item] = [i for i in api.call("GET", "/console/api/email/automated")[1]["automated"] if "Out of Office" in i["subject"]]
    assert api.call("POST", item["queue_url"])[0] == 200
    ooo.get_by_role("button", name=text("automated.move", ZH)).click()
    expect(agent.locator("#flash")).to_have_text(text("automated.already_moved", ZH))
    expect(automated_rows(agent)).to_have_count(0)
    expect(agent.locator("#automated-body")).to_contain_text(text("automated.empty", ZH))
    expect(queue_row(agent, item["conversation_id"])).to_be_visible()


def test_the_list_pages_on_with_more_within_a_search_in_english(chromium, mail_servers, contact_url):
    dovecot, _ = mail_servers
    en = "en"
    count = 51  # one more than a page of the console's list
    for number in range(1, count + 1):
        dovecot.append(new_mail("Market Daily <daily@lists.example.org>", f"Market Daily no. {number}",
                                "Today's market news.", Precedence="list", List_Id="Market Daily <daily.lists.example.org>"))
    api = Console(contact_url).log_in(DEMO_SUPERVISOR)

    def listed():
        found, before = [], None
        while True:
            page = api.call("GET", "/console/api/email/automated?q=market+daily" + (f"&before={before}" if before else ""))[1]
            found += page["automated"]
            before = page["next_before"]
            if before is None:
                return len(found) == count
    wait_for(listed, 4 * ANSWER / 1000, f"the {count} newsletters to be kept as automated")

    agent = console(chromium)
    log_in(agent, DEMO_AGENT, language=en)
    logged_in(agent, "Demo Agent", en)
    agent.get_by_text(text("automated.title", en), exact=True).click()
    search(agent, "Market Daily", en)
    more = agent.get_by_role("button", name=text("automated.more", en))
    expect(automated_rows(agent)).to_have_count(50)
    expect(agent.locator("#automated-count")).to_have_text("50+")
    expect(automated_rows(agent).first.locator("td").nth(2)).to_have_text(f"Market Daily no. {count}")  # newest first
    expect(automated_rows(agent).first.locator("td").nth(3)).to_have_text(text("automated.reason.precedence", en) +
                                                                          text("automated.reason.mailing-list", en))
    expect(automated_rows(agent).first.locator("td").first).to_have_text(re.compile("^" + DATE_TIME[en] + "$"))
    assert foreign_texts(agent, en) == []
    more.click()
    expect(automated_rows(agent)).to_have_count(count)
    expect(automated_rows(agent).last.locator("td").nth(2)).to_have_text("Market Daily no. 1")
    expect(more).to_be_hidden()
    expect(agent.locator("#automated-count")).to_have_text(str(count))
    chromium.shot(agent, "automated-paged")
    waiting = api.waiting()
    assert not [h for h in waiting if "Market Daily" in (h["summary"] or "")]  # none of them waits
    expect(agent.locator("#queue-count")).to_have_text(str(len(waiting)))
