"""Processes that start together (a cluster, a rollout) on one fresh PostgreSQL database: their
migrations and the demo's accounts take turns, and every one of them starts."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, text

from bot.launcher import _wait_until_up
from tests.support.database import new_database
from tests.support.ports import free_port
from tests.support.system import ROOT, ROOT_ENV, service_env

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


def test_three_contact_services_start_at_once_on_a_new_database(tmp_path):
    """Each seeds the demo customers and staff accounts: one after another, so none fails on a
    row another has just inserted."""
    with new_database("postgresql", tmp_path) as url:
        ports = [free_port() for _ in range(3)]
        services = []
        for port in ports:
            env = {**os.environ, **ROOT_ENV, **service_env(url), "CONTACT_PORT": str(port), "RASA_URL": f"http://127.0.0.1:{free_port()}"}
            with open(tmp_path / f"contact-{port}.log", "wb") as log:
                services.append(subprocess.Popen([sys.executable, "-m", "bot.server"], cwd=ROOT, env=env,
                                                 stdout=log, stderr=subprocess.STDOUT))
        try:
            for port, service in zip(ports, services):
                _wait_until_up(f"http://127.0.0.1:{port}/health", service, 120)
        finally:
            for service in services:
                service.terminate()
                service.wait(timeout=30)
