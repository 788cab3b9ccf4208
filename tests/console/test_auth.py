"""The agent console's login, sessions, CSRF protection and audit log, over real HTTP against the
contact service (Rasa is not needed), on SQLite and on PostgreSQL.

The browser is urllib with a cookie jar, which stores and sends cookies as a browser does.
"""

from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.error
import urllib.request
from datetime import timezone
from typing import Any, Dict, List, Optional, Tuple

import pytest
from argon2 import PasswordHasher
from sanic.response import json as json_response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import audit
from bot.core.audit import AuditEntry
from bot.console.auth import COOKIE, _set_cookie
from bot.http.staff import require_role
from bot.core import staff as staff_accounts
from bot.core.staff import PASSWORDS, Staff, demo_password
from tests.support.ports import free_port
from tests.support.staff import audit_rows, staff_command
from tests.support.system import contact_service_alone


IDLE_MINUTES = 0.1  # the short-timeout service: 6 seconds


@pytest.fixture(scope="module")
def console(database_url, tmp_path_factory):
    """The contact service with the default idle timeout (30 minutes); yields its base URL."""
    with contact_service_alone(tmp_path_factory.mktemp("console"), free_port(), DATABASE_URL=database_url) as url:
        yield url


@pytest.fixture(scope="module")
def hasty_console(console, database_url, tmp_path_factory):
    """A second service on the same database whose sessions end after 6 idle seconds."""
    with contact_service_alone(tmp_path_factory.mktemp("hasty"), free_port(), DATABASE_URL=database_url,
                               CONSOLE_IDLE_MINUTES=str(IDLE_MINUTES)) as url:
        yield url


class Browser:
    """A browser tab on the console: keeps cookies in a jar, sends JSON."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf_token: Optional[str] = None

    def call(self, method: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
             opener=None) -> Tuple[int, Dict[str, Any], Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with (opener or self.opener).open(request, timeout=60) as response:
                return response.status, json.loads(response.read()), response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}"), error.headers

    def log_in(self, staff_id: str, password: str) -> Tuple[int, Dict[str, Any], Any]:
        status, answer, headers = self.call("POST", "/console/api/login", {"id": staff_id, "password": password})
        self.csrf_token = answer.get("csrf_token", self.csrf_token)
        return status, answer, headers

    def me(self, **headers: str) -> Tuple[int, Dict[str, Any], Any]:
        return self.call("GET", "/console/api/me", headers=headers)

    def log_out(self, **headers: str) -> Tuple[int, Dict[str, Any], Any]:
        return self.call("POST", "/console/api/logout", headers=headers)

    def cookie(self) -> Optional[str]:
        return next((c.value for c in self.jar if c.name == COOKIE), None)


def with_cookie(base_url: str, path: str, cookie: str, method: str = "GET") -> int:
    """Status of a request sending ``cookie`` by hand (a stolen or kept copy, not from a jar)."""
    request = urllib.request.Request(base_url + path, method=method, headers={"Cookie": f"{COOKIE}={cookie}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def since(rows: List[AuditEntry], started: float) -> List[AuditEntry]:
    """The rows recorded from ``started`` (a time.time()) on; SQLite gives naive UTC times back."""
    return [row for row in rows if row.at.replace(tzinfo=row.at.tzinfo or timezone.utc).timestamp() >= started]


def logged_in(base_url: str, staff_id: str = "demo-agent", password: Optional[str] = None) -> Browser:
    browser = Browser(base_url)
    status, answer, _ = browser.log_in(staff_id, password or demo_password(staff_id))
    assert status == 200, answer
    return browser


def test_the_demo_agent_logs_in_with_an_httponly_strict_session_cookie(console):
    browser = Browser(console)
    status, answer, headers = browser.log_in("demo-agent", demo_password("demo-agent"))
    assert status == 200, answer
    assert answer["staff"] == {"id": "demo-agent", "name": "Demo Agent", "role": "agent", "language": "zh"}
    assert len(answer["csrf_token"]) >= 40
    assert headers["Cache-Control"] == "no-store"
    [cookie] = headers.get_all("Set-Cookie")
    flags = [part.strip() for part in cookie.split(";")]
    assert flags[0].startswith(f"{COOKIE}=") and len(flags[0]) > len(COOKIE) + 40
    assert set(flags[1:]) == {"Path=/", "HttpOnly", "SameSite=Strict"}  # no Max-Age: gone when the browser closes
    assert browser.cookie() == flags[0].split("=", 1)[1]

    status, me, headers = browser.me()
    assert status == 200, me
    assert me == {"staff": answer["staff"], "csrf_token": answer["csrf_token"], "idle_timeout_seconds": 1800}
    assert "Access-Control-Allow-Origin" not in headers  # no CORS on the console


def test_the_demo_supervisor_logs_in_as_supervisor(console):
    status, me, _ = logged_in(console, "demo-supervisor").me()
    assert status == 200 and me["staff"]["role"] == "supervisor"


def test_without_a_session_there_is_no_me(console):
    status, answer, _ = Browser(console).me()
    assert status == 401 and answer["error"]["code"] == "unauthorized"
    assert with_cookie(console, "/console/api/me", "made-up") == 401


def test_wrong_password_unknown_id_and_no_password_get_the_same_answer(console, database_url):
    assert staff_command(database_url, "add", "nopass", "--name", "No Password", "--role", "agent").returncode == 0
    answers = [Browser(console).log_in(staff_id, password)[:2] for staff_id, password in
               (("demo-agent", "not-the-password"), ("nobody-at-all", "not-the-password"), ("nopass", "not-the-password"))]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0] == (401, {"error": {"code": "login_failed", "message": "Wrong staff id or password."}})
    status, answer, _ = Browser(console).call("POST", "/console/api/login", {"id": "demo-agent"})
    assert status == 400 and answer["error"]["code"] == "invalid_request"


def test_the_sixth_failed_login_is_refused_for_a_while(console, database, database_url):
    assert staff_command(database_url, "add", "guessme", "--name", "Guess Me", "--role", "agent", "--password",
                         password="guess-me-correctly").returncode == 0
    browser = Browser(console)
    for attempt in range(5):
        assert browser.log_in("guessme", f"wrong-guess-{attempt}")[0] == 401
    status, answer, headers = browser.log_in("guessme", "guess-me-correctly")  # even the right password, now
    assert status == 429 and answer["error"]["code"] == "rate_limited"
    assert 800 < int(headers["Retry-After"]) <= 901
    reasons = [row.detail["reason"] for row in audit_rows(database, "login_failed", "staff:guessme")]
    assert reasons == ["wrong_password"] * 5 + ["rate_limited"]
    assert logged_in(console).me()[0] == 200  # other accounts are not locked out


def test_logout_needs_the_csrf_token_and_ends_the_session(console, database):
    started = time.time()
    browser = logged_in(console)
    kept = browser.cookie()
    for headers in ({}, {"X-CSRF-Token": "guessed"}):
        status, answer, _ = browser.log_out(**headers)
        assert (status, answer["error"]["code"]) == (403, "csrf_failed")
    assert browser.me()[0] == 200  # a refused logout changed nothing

    status, answer, headers = browser.log_out(**{"X-CSRF-Token": browser.csrf_token})
    assert status == 200, answer
    assert "Max-Age=0" in headers["Set-Cookie"] and browser.cookie() is None  # the browser forgets it
    assert browser.me()[0] == 401
    assert with_cookie(console, "/console/api/me", kept) == 401  # and a kept copy is worthless
    assert browser.log_out(**{"X-CSRF-Token": browser.csrf_token})[0] == 401
    [logout] = since(audit_rows(database, "logout", actor="staff:demo-agent"), started)
    assert (logout.ip, logout.target, logout.detail) == ("127.0.0.1", None, {})


def test_a_cross_site_origin_is_refused_even_with_the_csrf_token(console):
    browser = logged_in(console)
    token = {"X-CSRF-Token": browser.csrf_token}
    for origin in ("http://evil.example", "null", console.replace("127.0.0.1", "localhost")):
        status, answer, _ = browser.log_out(Origin=origin, **token)
        assert (status, answer["error"]["code"]) == (403, "csrf_failed"), origin
    assert browser.me(Origin="http://evil.example")[0] == 403  # reads and WebSocket handshakes too
    assert browser.log_out(Origin=console, **token)[0] == 200  # the console's own page
    status, answer, _ = browser.call("POST", "/console/api/login", {"id": "demo-agent", "password": demo_password("demo-agent")},
                                     headers={"Origin": "http://evil.example"})
    assert (status, answer["error"]["code"]) == (403, "csrf_failed")  # no logging a browser in from elsewhere


def test_the_console_language_is_chosen_per_staff_member_and_kept(console, database_url):
    """Simplified Chinese unless chosen; PUT /console/api/me/language needs a session and the CSRF
    token, takes only zh or en, and the choice is on the account (a new login, elsewhere, has it)."""
    assert staff_command(database_url, "add", "linguist", "--name", "Lin Guist", "--role", "agent", "--password",
                         password="linguist-password-1").returncode == 0
    path = "/console/api/me/language"
    assert Browser(console).call("PUT", path, {"language": "en"})[:2] == (
        401, {"error": {"code": "unauthorized", "message": "Please log in to the console (again)."}})
    browser = logged_in(console, "linguist", "linguist-password-1")
    assert browser.me()[1]["staff"]["language"] == "zh"
    for headers in ({}, {"X-CSRF-Token": "guessed"}):
        status, answer, _ = browser.call("PUT", path, {"language": "en"}, headers=headers)
        assert (status, answer["error"]["code"]) == (403, "csrf_failed")
    token = {"X-CSRF-Token": browser.csrf_token}
    for wrong in ({"language": "fr"}, {"language": "EN"}, {"language": ["en"]}, {"language": None}, {}):
        status, answer, _ = browser.call("PUT", path, wrong, headers=token)
        assert (status, answer["error"]["code"]) == (422, "invalid_language"), wrong
    assert browser.me()[1]["staff"]["language"] == "zh"  # nothing refused was stored

    status, answer, headers = browser.call("PUT", path, {"language": "en"}, headers=token)
    assert (status, answer) == (200, {"language": "en"}) and headers["Cache-Control"] == "no-store"
    assert browser.me()[1]["staff"]["language"] == "en"
    elsewhere = Browser(console)
    status, answer, _ = elsewhere.log_in("linguist", "linguist-password-1")
    assert status == 200 and answer["staff"]["language"] == "en"
    assert browser.call("PUT", path, {"language": "zh"}, headers=token)[0] == 200
    assert elsewhere.me()[1]["staff"]["language"] == "zh"


def test_the_bearer_token_routes_do_not_take_the_console_cookie(console):
    browser = logged_in(console, "demo-supervisor")
    status, answer, _ = browser.call("GET", "/api/v1/staff/complaints")
    assert status == 401 and answer["error"]["code"] == "unauthorized"
    assert with_cookie(console, "/api/v1/staff/complaints", browser.cookie()) == 401


def test_passwords_are_stored_as_argon2_hashes_only(console, database):
    logged_in(console)
    with Session(database) as session:
        hashes = {staff.id: staff.password_hash for staff in session.execute(select(Staff)).scalars()}
    for staff_id in ("demo-agent", "demo-supervisor"):
        assert hashes[staff_id].startswith("$argon2id$")
        assert demo_password(staff_id) not in hashes[staff_id]


def test_an_outdated_hash_is_replaced_at_login(console, database):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("an-old-style-password")
    with Session(database) as session:
        staff_accounts.save(session, "oldhash", "Old Hash", "agent")
        session.get(Staff, "oldhash").password_hash = weak
        session.commit()
    logged_in(console, "oldhash", "an-old-style-password")
    with Session(database) as session:
        renewed = session.get(Staff, "oldhash").password_hash
    assert renewed != weak and not PASSWORDS.check_needs_rehash(renewed)


def test_logins_and_failures_are_audited_without_passwords(console, database):
    started = time.time()
    logged_in(console)
    Browser(console).log_in("no-such-agent", "a-password-typed-by-someone")
    [login] = since(audit_rows(database, "login", actor="staff:demo-agent"), started)
    assert (login.ip, login.detail) == ("127.0.0.1", {})
    [failed] = audit_rows(database, "login_failed", "staff:no-such-agent")
    assert (failed.actor, failed.ip, failed.detail) == ("anonymous", "127.0.0.1", {"reason": "unknown_id"})
    with Session(database) as session:
        everything = json.dumps([[r.actor, r.target, r.detail] for r in session.execute(select(AuditEntry)).scalars()])
    for secret in ("a-password-typed-by-someone", demo_password("demo-agent"), demo_password("demo-supervisor"),
                   "guess-me-correctly", "wrong-guess"):
        assert secret not in everything


def test_a_deactivated_account_can_no_longer_log_in_and_its_session_ends(console, database, database_url):
    added = staff_command(database_url, "add", "leaver", "--name", "Lee Ver", "--role", "agent", "--password",
                          password="a-good-long-password")
    assert added.returncode == 0, added.stderr
    assert "a-good-long-password" not in added.stdout
    browser = logged_in(console, "leaver", "a-good-long-password")
    assert browser.me()[1]["staff"] == {"id": "leaver", "name": "Lee Ver", "role": "agent", "language": "zh"}

    assert staff_command(database_url, "deactivate", "leaver").returncode == 0
    with Session(database) as session:
        assert session.get(Staff, "leaver").password_hash is None
    assert browser.me()[0] == 401
    [ended] = audit_rows(database, "session_expired", "staff:leaver")
    assert ended.detail == {"reason": "account_inactive"}
    assert Browser(console).log_in("leaver", "a-good-long-password")[:2] == \
        Browser(console).log_in("nobody-at-all", "a-good-long-password")[:2]


def test_the_command_refuses_a_short_password(database_url):
    done = staff_command(database_url, "add", "shorty", "--name", "Shorty", "--role", "agent", "--password", password="short")
    assert done.returncode == 1 and "12" in done.stderr


def test_an_idle_session_expires_and_is_audited(hasty_console, database):
    browser = logged_in(hasty_console)
    status, me, _ = browser.me()
    assert status == 200 and me["idle_timeout_seconds"] == 6
    time.sleep(IDLE_MINUTES * 60 + 2)
    status, answer, _ = browser.me()
    assert status == 401 and answer["error"]["code"] == "unauthorized"
    expired = [r for r in audit_rows(database, "session_expired", "staff:demo-agent") if r.detail == {"reason": "idle"}]
    assert expired and expired[-1].actor == "system"


def test_activity_keeps_a_session_alive(hasty_console):
    browser = logged_in(hasty_console)
    for _ in range(5):  # 10 seconds in all, longer than the timeout, never 6 idle
        time.sleep(2)
        assert browser.me()[0] == 200


def test_roles():
    agent, supervisor = Staff(id="a", role="agent"), Staff(id="s", role="supervisor")
    require_role(supervisor, "supervisor")
    require_role(supervisor, "agent")
    require_role(agent, "agent")
    with pytest.raises(Exception) as refused:
        require_role(agent, "supervisor")
    assert (refused.value.status_code, refused.value.code) == (403, "forbidden")


def test_the_cookie_is_secure_when_configured():
    response = json_response({})
    _set_cookie(response, "token", secure=True)
    assert "Secure" in str(response.cookies[COOKIE])


def test_the_audit_log_is_append_only_and_keeps_no_secrets(console, database):
    with Session(database) as session:
        entry = audit.record(session, "staff:demo-agent", "note_added", target="C20261201-0001",
                             text="call me on 13912345678")
        session.commit()
        assert entry.detail == {"text": "call me on 139****5678"}
        entry.action = "nothing_happened"
        with pytest.raises(ValueError):
            session.commit()
        session.rollback()
        session.delete(entry)
        with pytest.raises(ValueError):
            session.commit()
        session.rollback()
        with pytest.raises(ValueError):
            audit.record(session, "staff:demo-agent", "login", password="hunter2hunter2")
