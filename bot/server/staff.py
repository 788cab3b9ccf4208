"""``python -m bot.server.staff``: manage staff accounts (docs/console.md, docs/staff-api.md)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import List, Optional

from bot.core.db import make_engine, session_factory
from bot.core.settings import database_url
from bot.core.staff import ROLES, deactivate, save
from channels.registry import migrate


def _ask_password() -> str:
    """STAFF_PASSWORD, or typed twice at a prompt that does not echo it."""
    if os.environ.get("STAFF_PASSWORD"):
        return os.environ["STAFF_PASSWORD"]
    password = getpass.getpass("Console password: ")
    if getpass.getpass("Again: ") != password:
        raise ValueError("the two passwords differ")
    return password


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Manage staff accounts of the contact service.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an account, or update it, and issue a new API token")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password", action="store_true",
                     help="also set the console password, from STAFF_PASSWORD or a prompt")
    off = commands.add_parser("deactivate", help="disable an account, its token and its password")
    off.add_argument("id")
    for command in (add, off):
        command.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    engine = make_engine(args.database_url or database_url())
    migrate(engine)
    with session_factory(engine)() as session:
        if args.command == "deactivate":
            if not deactivate(session, args.id):
                print(f"No staff account {args.id!r}.", file=sys.stderr)
                return 1
            print(f"Deactivated {args.id}.")
            return 0
        try:
            password = _ask_password() if args.password else None
            token = save(session, args.id, args.name, args.role, password=password)
        except ValueError as error:
            print(f"Nothing saved: {error}", file=sys.stderr)
            return 1
    if args.password:
        print(f"Console password set for {args.id}.")
    print(f"API token for {args.id} ({args.role}); it is shown only this once:\n{token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
