"""Alembic environment: runs migrations on the URL given by ``bot.core.db.migrate``."""

from alembic import context
from sqlalchemy import create_engine

from bot.core.models import Base

url = context.config.attributes["url"]
engine = context.config.attributes.get("engine") or create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
