"""Customers' optional email address from the CRM import (bot/core/customers.py, the import
command): sealed and found by a keyed hash, on SQLite and PostgreSQL; a bad address rejects the
file whole; a file without the column leaves the stored addresses alone."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from bot.core import customers
from tests.support.database import new_database
from tests.support.system import ROOT, ROOT_ENV

KEY = Fernet.generate_key().decode()
HEADER = "id,name,tier,risk_level,risk_expires,language"


def test_an_address_is_stored_sealed_and_found_by_its_keyed_hash(tmp_path, sessions):
    export = tmp_path / "crm.csv"
    export.write_text(f"{HEADER},email\nc-1,周先生,premier,C3,2027-05-01,zh,Zhou@Example.com\nc-2,Li,standard,,,en,\n",
                      encoding="utf-8")
    seal = customers.EmailSeal(KEY)
    with sessions() as session:
        assert customers.upsert(session, customers.read_export(export), seal) == 2
        found = customers.by_email(session, seal, " zhou@example.COM ")
        assert found.id == "c-1" and seal.open(found.email_sealed) == "Zhou@Example.com"
        assert customers.by_email(session, customers.EmailSeal(Fernet.generate_key().decode()), "zhou@example.com") is None
        stored = " ".join(str(v) for v in session.execute(text("SELECT * FROM customers")).all())
        assert "zhou@" not in stored.lower()  # neither the address nor its lower-cased form in plain text
        assert customers.find(session, "c-2").email_key is None

        # A later export without the column changes nothing of the address; an empty cell removes it.
        without = tmp_path / "tiers.csv"
        without.write_text(f"{HEADER}\nc-1,周先生,private,C3,2027-05-01,zh\n", encoding="utf-8")
        customers.upsert(session, customers.read_export(without), seal)
        session.expire_all()
        assert customers.by_email(session, seal, "zhou@example.com").tier == "private"
        emptied = tmp_path / "emptied.csv"
        emptied.write_text(f"{HEADER},email\nc-1,周先生,private,C3,2027-05-01,zh,\n", encoding="utf-8")
        customers.upsert(session, customers.read_export(emptied), seal)
        session.expire_all()
        assert customers.by_email(session, seal, "zhou@example.com") is None


def test_two_customers_with_one_address_match_neither(tmp_path, sessions):
    export = tmp_path / "crm.json"
    export.write_text('[{"id": "a", "name": "A", "tier": "private", "email": "family@example.com"},'
                      ' {"id": "b", "name": "B", "tier": "standard", "email": "family@example.com"}]', encoding="utf-8")
    seal = customers.EmailSeal(KEY)
    with sessions() as session:
        customers.upsert(session, customers.read_export(export), seal)
        assert customers.by_email(session, seal, "family@example.com") is None


@pytest.mark.parametrize("address", ["not-an-address", "a@b", "Zhou <zhou@example.com>", "a@example.com, b@example.com"])
def test_the_import_command_rejects_a_bad_address_naming_the_row(tmp_path, address):
    export = tmp_path / "crm.csv"
    export.write_text(f'{HEADER},email\nc-1,周先生,premier,C3,2027-05-01,zh,zhou@example.com\nc-2,Li,standard,,,en,"{address}"\n',
                      encoding="utf-8")
    with new_database("sqlite", tmp_path) as url:
        done = subprocess.run([sys.executable, "-m", "bot.server.customers", "import", str(export), "--database-url", url],
                              cwd=ROOT, env={**ROOT_ENV, "PERSONAL_DATA_KEY": KEY}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Nothing imported: crm.csv row 2: email must be one address" in done.stderr
