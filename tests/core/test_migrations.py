"""Processes that start together (a cluster, a rollout) migrate one fresh PostgreSQL database at
once: they take turns, and each one starts."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import create_engine, text

from tests.support.database import new_database
from tests.support.system import ROOT, ROOT_ENV

MIGRATE = "from bot.core.db import make_engine; from channels.registry import migrate; import sys; migrate(make_engine(sys.argv[1]))"


def test_three_processes_migrate_one_new_database_at_once(tmp_path):
    with new_database("postgresql", tmp_path) as url:
        processes = [subprocess.Popen([sys.executable, "-c", MIGRATE, url], cwd=ROOT, env=ROOT_ENV, stderr=subprocess.PIPE)
                     for _ in range(3)]
        failures = [p.stderr.read().decode()[-2000:] for p in processes if p.wait(timeout=120) != 0]
        assert failures == []
        engine = create_engine(url)
        with engine.connect() as connection:
            heads = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        engine.dispose()
        assert len(heads) == 1
