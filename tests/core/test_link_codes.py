"""One-time link codes on SQLite and PostgreSQL: used once, only within ten minutes, never
stored in clear, and two redemptions racing give one link."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.core.link_codes import ALPHABET, LENGTH, LinkCode, LinkCodes
from bot.service_hours import SHANGHAI

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


def test_a_code_links_once(sessions):
    codes = LinkCodes(sessions)
    code, expires = codes.issue("demo-private", T0)
    assert len(code) == LENGTH and set(code) <= set(ALPHABET) and expires == T0 + timedelta(minutes=10)
    assert codes.redeem(code.lower(), "tg-1", T0 + timedelta(minutes=2)) == "demo-private"  # typed in lower case
    assert codes.redeem(code, "tg-2", T0 + timedelta(minutes=3)) is None  # used up
    with sessions() as session:
        [stored] = session.execute(select(LinkCode)).scalars()
    assert stored.code_hash != code and code not in stored.code_hash and stored.used_by == "tg-1"


def test_an_expired_or_wrong_code_links_nobody(sessions):
    codes = LinkCodes(sessions)
    code, _ = codes.issue("demo-private", T0)
    assert codes.redeem(code, "tg-1", T0 + timedelta(minutes=10)) is None
    assert codes.redeem("ABCDEFGH", "tg-1", T0) is None
    assert codes.redeem("", "tg-1", T0) is None


def test_two_redemptions_at_once_link_one_account(sessions):
    codes = LinkCodes(sessions)
    code, _ = codes.issue("demo-private", T0)
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(codes.redeem(code, f"tg-{n}", T0))) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("demo-private") == 1 and results.count(None) == 3
