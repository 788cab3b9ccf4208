"""``python -m bot.server.customers import <file>``: import customer profiles from a CRM export
(README "Customers"); the optional ``email`` column is sealed with ``PERSONAL_DATA_KEY``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from bot.core.customers import EmailSeal, InvalidCustomer, read_export, upsert
from bot.core.db import make_engine, session_factory
from bot.core.settings import Settings
from channels.registry import migrate


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Import customer profiles from a CRM export.")
    parser.add_argument("command", choices=["import"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    settings = Settings()
    engine = make_engine(args.database_url or settings.database_url)
    migrate(engine)
    try:
        profiles = read_export(args.file)
    except (InvalidCustomer, json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
        print(f"Nothing imported: {error}", file=sys.stderr)
        return 1
    try:  # email addresses are sealed with PERSONAL_DATA_KEY, like the mobile numbers
        seal = EmailSeal(settings.personal_data_key)
    except (ValueError, TypeError):
        if any(profile.get("email") for profile in profiles):
            print("Nothing imported: email addresses are stored sealed; set PERSONAL_DATA_KEY (a Fernet key).", file=sys.stderr)
            return 1
        seal = None
    with session_factory(engine)() as session:
        print(f"Imported {upsert(session, profiles, seal)} customers.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
