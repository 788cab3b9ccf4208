"""References tell nobody the firm's volume (bot/references.py): the day and a random part with a
check digit, not a daily count. As an attacker would look at them: consecutive complaints are not
consecutive numbers, the first of a day is not 0001; as a customer would type them: a mistyped
digit or two swapped digits are told apart from an unknown complaint. References stored before
the change (four-digit counts) still parse everywhere: in the chat's status look-up and in email
subjects. Filing on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from actions.complaints import ActionComplaintStatus
from bot import references
from bot.complaints.desk import ComplaintDesk, ComplaintDraft
from bot.complaints.models import Complaint
from bot.references import new_reference, pattern, well_formed
from bot.service_hours import SHANGHAI
from channels.email.reading import read_email
from tests.support.mail import new_mail
from tests.support.trackers import make_tracker, run_action, stored, texts

# Every test on its own SQLite database, the actions' clock at NOW (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("actions_database")

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


def draft(key: str, conversation: str = "conversation-1") -> ComplaintDraft:
    return ComplaintDraft(source_key=key, conversation_id=conversation, customer_id=None, channel="web", language="en",
                          category="fees", description="charged twice")


def test_a_days_references_are_random_not_a_count(sessions):
    desk = ComplaintDesk(sessions)
    filed = [desk.file(draft(f"k{n}"), NOW + timedelta(minutes=n)).reference for n in range(20)]
    assert all(re.fullmatch(r"C20261130-\d{6}", r) and well_formed(r) for r in filed)
    numbers = [int(r[-6:-1]) for r in filed]  # the random part, without the check digit
    assert len(set(numbers)) == len(numbers)
    assert numbers != sorted(numbers)  # 20 random draws in order: about 1 in 2.4e18
    assert max(numbers) >= 1000  # a count would start at 1 (all below 1000: 1 in 1e40)


def test_a_drawn_reference_already_taken_is_drawn_again(sessions, monkeypatch):
    desk = ComplaintDesk(sessions)
    taken = desk.file(draft("first"), NOW).reference
    draws = iter([taken, taken, "C20261130-483929"])
    monkeypatch.setattr(references, "new_reference", lambda prefix, moment: next(draws))
    second = desk.file(draft("second"), NOW)
    assert second.reference == "C20261130-483929" and second.source_key == "second"


def test_the_format_fits_every_kind_and_day():
    moment = datetime(2026, 11, 29, 17, 30, tzinfo=SHANGHAI) - timedelta(hours=8)  # UTC 09:30 → still the 29th
    for prefix in ("C", "CB", "AP", "Q"):
        reference = new_reference(prefix, moment)
        assert re.fullmatch(rf"{prefix}20261129-\d{{6}}", reference) and re.fullmatch(pattern(prefix), reference)
        assert len(reference) <= 17 and well_formed(reference)


@pytest.mark.parametrize("reference", [new_reference("C", NOW) for _ in range(5)] + ["C20261128-483924"])
def test_every_single_typo_and_swap_of_neighbours_is_caught(reference):
    digits = reference[1:9] + reference[10:]
    for position in range(len(digits)):
        for wrong in "0123456789":
            if wrong != digits[position]:
                typo = digits[:position] + wrong + digits[position + 1:]
                assert not well_formed(f"C{typo[:8]}-{typo[8:]}"), typo
        if position + 1 < len(digits) and digits[position] != digits[position + 1]:
            swapped = digits[:position] + digits[position + 1] + digits[position] + digits[position + 2:]
            assert not well_formed(f"C{swapped[:8]}-{swapped[8:]}"), swapped
    assert not well_formed(reference[:-1]) and not well_formed(reference + "0")  # a digit lost or added


def test_references_made_before_the_change_stay_valid():
    assert well_formed("C20261128-0007") and well_formed("CB20261129-0001")
    assert not well_formed("C20261128-00071") and not well_formed("C2026112-0007")


def test_email_subjects_carry_both_forms():
    new = new_reference("C", NOW)
    raw = new_mail("a@customer.example", f"Re: 【{new.lower()}】 and [Q20261127-0001] and [C20261128-48392] about", "hi")
    assert read_email(raw).subject_references == (new, "Q20261127-0001")  # the five-digit one is no reference


def file_owned(actions_database, reference: str, conversation: str = "customer-1") -> Complaint:
    """A complaint filed under ``reference`` (an old one, or a new one), owned by the tracker's conversation."""
    with actions_database() as session:
        complaint = Complaint(
            reference=reference, source_key=f"key-{reference}", conversation_id=conversation, channel="web",
            language="en", category="fees", severity="general", urgent=False, description="charged twice",
            state="received", received_at=NOW, first_reply_due=NOW, resolution_due=NOW, regulatory_due=NOW,
            regulatory_extension_days=0, overdue=[], updated_at=NOW)
        session.add(complaint)
        session.commit()
        return complaint


async def status(text: str) -> str:
    messages, _ = await run_action(ActionComplaintStatus(), make_tracker(text, "complaint_status", metadata=stored(1)))
    return texts(messages)


async def test_the_status_look_up_finds_old_and_new_references_and_tells_a_typo(actions_database):
    new = new_reference("C", NOW)
    file_owned(actions_database, "C20261128-0007")
    file_owned(actions_database, new)
    assert "Complaint C20261128-0007 (Fees and charges)" in await status("status of C20261128-0007?")
    assert f"Complaint {new} (Fees and charges)" in await status(f"where is my complaint {new}")
    spaced = f"c {new[1:9]} {new[10:]}"  # as typed on a phone
    assert f"Complaint {new}" in await status(f"{spaced} please")
    assert f"投诉 {new}" in await status(f"查询投诉编号{new}谢谢")  # Chinese right next to it
    typo = new[:-2] + str((int(new[-2]) + 1) % 10) + new[-1]
    said = await status(f"status of {typo}")
    assert "doesn't look right" in said and "couldn't find" not in said
    assert "couldn't find a complaint C20261130-483929" in await status("status of C20261130-483929")  # right form, not ours
