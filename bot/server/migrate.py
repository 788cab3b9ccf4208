"""``python -m bot.server.migrate``: bring the database (``DATABASE_URL``) up to date.

The contact service migrates at every start; this is for what may run before it ever has
(``make shell`` on a fresh clone, whose Rasa keeps trackers in the same database)."""

from __future__ import annotations

from bot.core.db import make_engine
from bot.core.settings import database_url
from channels.registry import migrate

if __name__ == "__main__":
    migrate(make_engine(database_url()))
