"""Fixtures shared by several test folders, built from the helpers in tests/support/. A folder's
own fixtures are in its conftest.py; a test module imports helpers, never fixtures."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from actions import bookings as booking_actions
from actions import forms
from bot.cluster import Cluster, Layout
from bot.core.db import make_engine, session_factory, sessions_for
from channels.registry import migrate
from tests.support.clients import Client
from tests.support.database import KINDS, new_database
from tests.support.imap_server import DovecotServer
from tests.support.mail import ticket_store
from tests.support.smtp_server import SmtpServer
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.system import IN_HOURS, MODEL, rasa_and_actions, running_assistant, service_env
from tests.support.telegram import TOKEN
from tests.support.telegram_api import BotApi
from tests.support.trackers import DISCLOSURE, NOW


def pytest_configure(config):
    config.addinivalue_line("markers", "clock(when): the module's ``system`` runs with EVERGREEN_CLOCK frozen at ``when``")


@pytest.fixture
def disclosure():
    return DISCLOSURE


# --- databases ------------------------------------------------------------------------------------

@pytest.fixture(params=KINDS)
def sessions(request, tmp_path):
    """A fresh, migrated database of each kind for every test."""
    with new_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        yield session_factory(engine)
        engine.dispose()


@pytest.fixture(scope="module", params=KINDS)
def database_url(request, tmp_path_factory):
    """A new, empty database of each kind for the module (the running system migrates it)."""
    with new_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def database(database_url):
    """An engine on the module's database."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(database_url):
    """A session on the module's database, for looking at what the services stored."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def actions_database(tmp_path, monkeypatch):
    """The actions' database (``DATABASE_URL``): a new SQLite one; the forms' and the booking
    actions' clock at ``NOW``. Modules of actions use it for every test
    (``pytestmark = pytest.mark.usefixtures("actions_database")``)."""
    url = f"sqlite:///{tmp_path / 'contact.db'}"
    migrate(make_engine(url))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr(forms, "now", lambda: NOW)
    monkeypatch.setattr(booking_actions, "now", lambda: NOW)
    return sessions_for(url)


# --- the running system ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def system(request, database_url, tmp_path_factory):
    """The whole system on the module's database; its clock frozen where the module is marked
    ``pytestmark = pytest.mark.clock(IN_HOURS)`` (tests/support/system.py), else the real one."""
    marker = request.node.get_closest_marker("clock")
    with running_assistant(database_url, tmp_path_factory.mktemp("logs"), clock=marker.args[0] if marker else None) as assistant:
        yield assistant


@pytest.fixture
def client(system):
    return Client(system.contact_url)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    """Rasa and the action server without the contact service, a separate pair for each module."""
    with rasa_and_actions(tmp_path_factory.mktemp("rest")) as running:
        yield running


@pytest.fixture(scope="module")
def bot_api(database_url):
    """A new capture server standing in for the Telegram Bot API for each system (the same
    users' chats must start empty)."""
    api = BotApi(TOKEN).start()
    yield api
    api.stop()


# Both mail servers start afresh for each database, so each run sees only its own mail.
@pytest.fixture(scope="module")
def dovecot(database_url):
    server = DovecotServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def smtp(database_url, tmp_path_factory):
    server = SmtpServer(tmp_path_factory.mktemp("smtp")).start()
    yield server
    server.stop()


@pytest.fixture
def tickets(sessions):
    """The email channel's ticket store on a fresh database."""
    return ticket_store(sessions)


# --- the cluster (bot/cluster.py), for tests/cluster and the browser test through nginx ----------

@pytest.fixture(scope="module")
def redis_server():
    """A Redis server of the module's own, so a test may restart it."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_database_url(tmp_path_factory):
    """A new PostgreSQL database of the module's own: several processes share a server database
    (modules of them override ``database_url`` with it)."""
    with new_database("postgresql", tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def cluster(redis_server, postgres_database_url, tmp_path_factory):
    """As `make cluster` runs it: nginx in front of 2 contact services, 2 Rasa servers and 2 action
    servers on a new PostgreSQL database and the module's Redis, the clock inside agent hours."""
    env = {**service_env(postgres_database_url), "EVERGREEN_CLOCK": IN_HOURS, "CONSOLE_AGENT_CAPACITY": "10"}
    with Cluster(MODEL, tmp_path_factory.mktemp("cluster"), postgres_database_url, redis_server.url,
                 Layout(port=free_port()), service_env=env) as running:
        yield running
